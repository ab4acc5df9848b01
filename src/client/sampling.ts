import { ZiggyError } from '../errors';

/**
 * Sampling decisions, apart from contexts so they can be tested alone.
 *
 * A sample spec is `[level, rate]`. The level says which context the decision belongs to:
 * - `'.'` or the context's own name: decided afresh for every context;
 * - `'..'`: decided once per parent per child type, so all `request.memcache` contexts
 *   under one request are kept together or dropped together;
 * - an ancestor's name: decided once per that ancestor per child type.
 * A level naming no context in the chain (including `'..'` with no parent) falls back to
 * a per-context decision. A disabled parent disables its children whatever they ask.
 */

/** `[level, rate]`: `level` is `'.'`, `'..'` or a context name; `rate` is in [0, 1]. */
export type SampleSpec = readonly [level: string, rate: number];

/** Returns a number in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** What sampling needs to know about a context: its name, its parent and its own decision. */
export interface SampleNode {
  readonly name: string;
  readonly enabled: boolean;
  readonly parent: SampleNode | null;
}

/**
 * Keep (true) or drop (false), with probability `rate` of keeping. Rates of 1 and above
 * always keep and 0 and below always drop, without consulting `rng`.
 */
export function decideSample(rate: number, rng: RandomSource): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return rng() < rate;
}

/** Checks a spec given by the application; throws ZiggyError('BAD_CONFIG') when it is not one. */
export function checkSampleSpec(spec: unknown): SampleSpec {
  if (!Array.isArray(spec) || spec.length !== 2) {
    throw new ZiggyError('BAD_CONFIG', "sample must be a [level, rate] pair, such as ['..', 0.25]");
  }
  const [level, rate] = spec as [unknown, unknown];
  if (typeof level !== 'string' || level.length === 0) {
    throw new ZiggyError('BAD_CONFIG', `sample level must be '.', '..' or a context name, got ${String(level)}`);
  }
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new ZiggyError('BAD_CONFIG', `sample rate must be a number from 0 to 1, got ${String(rate)}`);
  }
  return spec as unknown as SampleSpec;
}

/**
 * Whether `level` names the context called `name`: its full name (`request.memcache`) or
 * a dotted tail of it (`memcache`), as the original's `('memcache', 0.25)` did.
 */
export function levelNames(level: string, name: string): boolean {
  if (level === name) return true;
  const cut = name.length - level.length - 1;
  return cut > 0 && name.charCodeAt(cut) === 46 /* . */ && name.endsWith(level);
}

/**
 * The context that holds the decision for a context called `name` under `parent`, or null
 * when the context decides for itself.
 */
export function decisionOwner(level: string, name: string, parent: SampleNode | null): SampleNode | null {
  if (level === '.') return null;
  if (level === '..') return parent;
  if (levelNames(level, name)) return null;
  for (let p = parent; p !== null; p = p.parent) {
    if (levelNames(level, p.name)) return p;
  }
  return null;
}

// Shared decisions live beside their owners, not on them, and go when the owner goes.
const shared = new WeakMap<SampleNode, Map<string, boolean>>();

/**
 * Whether a new context called `name`, under `parent`, with `spec` (if any), is enabled.
 * A shared decision is made on first use and remembered on its owner for later siblings.
 */
export function decideEnabled(spec: SampleSpec | undefined, name: string, parent: SampleNode | null, rng: RandomSource): boolean {
  if (parent !== null && !parent.enabled) return false;
  if (spec === undefined) return true;
  const owner = decisionOwner(spec[0], name, parent);
  if (owner === null) return decideSample(spec[1], rng);
  let decisions = shared.get(owner);
  if (decisions === undefined) {
    decisions = new Map();
    shared.set(owner, decisions);
  }
  let keep = decisions.get(name);
  if (keep === undefined) {
    keep = decideSample(spec[1], rng);
    decisions.set(name, keep);
  }
  return keep;
}

let random: RandomSource = Math.random;

/** The random source contexts sample with (Math.random unless replaced). */
export function randomSource(): RandomSource {
  return random;
}

/**
 * Replaces the random source contexts sample with, for deterministic tests; returns the
 * previous one so it can be put back.
 */
export function setRandomSource(next: RandomSource): RandomSource {
  const prev = random;
  random = next;
  return prev;
}
