import { inject, Lifecycle, scoped } from 'tsyringe';
import { CLOCK, systemClock, type Clock } from './clock';
import { DaemonSettings } from './config';
import { DaemonLog } from './logger';
import { Stats } from './stats';

/**
 * What every part of a daemon uses besides its own collaborators: the settings, the
 * counters, the log and the clock. The sinks, the listeners, the collector and the Daemon
 * all need the same four, so each takes this one injection instead of four (and the
 * optional CLOCK with its default is spelled once, here). A custom EventSink may take it
 * too.
 *
 * It is scoped to the container, as the four are: two daemons in two child containers
 * share none of it, and what a spec or an app registers in its own container
 * (DAEMON_CONFIG, DAEMON_LOGGER, CLOCK) reaches every part as before.
 */
@scoped(Lifecycle.ContainerScoped)
export class DaemonCore {
  constructor(
    @inject(DaemonSettings) readonly settings: DaemonSettings,
    @inject(Stats) readonly stats: Stats,
    @inject(DaemonLog) readonly log: DaemonLog,
    @inject(CLOCK, { isOptional: true }) readonly clock: Clock = systemClock,
  ) {}
}
