/**
 * `ziggy/view`: reading events back, from files, stdin or a daemon's live stream, and
 * asking a daemon how it is doing. The ziggyview and ziggyctl commands are thin layers
 * over these.
 */
export { view, type ViewInput, type ViewOptions, type StatsRequest } from './view';
export { parseViewQuery, type ViewQuery, type ViewQueryArgs } from './query';
export { EventFilter, parseWhere, type Condition, type FilterOptions, type WhereOp, type WhereValue } from './filter';
export { FieldPath } from './field-path';
export { StatsAggregator, LogSketch, nearestRank, type StatsRow, type StatsOptions } from './stats';
export { parseTime, parseTimeRange, daysOf, type TimeRange } from './time-range';
export { followLog, type FollowOptions } from './follow';
export { chooseInput, type ViewInputArgs, type StdinInfo } from './inputs';
export { BsonReader, DEFAULT_CHUNK_SIZE, type WarningHandler } from './read';
export { findLogFiles, parseDay, utcDay, describeQuery, type LogFile, type LogQuery } from './log-files';
export { parseTypeFilter, matchesType, ALL_TYPES, type TypeFilter } from './type-filter';
export { mergeByEnd, nextDocument, type DocumentVisitor } from './merge';
export { LiveStream, DEFAULT_RECONNECT_MS, type LiveStreamOptions, type LiveMessage } from './subscribe';
export { Grouper, isParentType, DEFAULT_GROUP_MAX } from './grouper';
export { EventFormatter, type FormatOptions } from './format';
export { BsonTranscoder } from './transcode';
export { JsonBuffer } from './json-buffer';
export { Output } from './output';
export { prettyJson, useColor, readableEvent } from './pretty';
export { formatStatus, duration, ago } from './status';
export { statusReport, shutdownDaemon } from './ctl';
export { ControlClient, DEFAULT_CONTROL_TIMEOUT_MS, type ControlClientOptions } from '../protocol/control-client';
