import { ZiggyError } from '../errors';

/** Default bound on the ids a Grouper holds open. */
export const DEFAULT_GROUP_MAX = 1000;

/**
 * Whether an event of this type closes its group. A sub-context's type is its parent's
 * plus `.name` (`request.sql`), and a parent finishes, and so is sent, after all its
 * sub-contexts: the event whose type has no dot is the last of its id.
 */
export function isParentType(type: string | undefined): boolean {
  return type === undefined || !type.includes('.');
}

/**
 * Joins sub-events with their parent by id. Sub-events wait until the parent of their id
 * arrives, then the whole group is emitted in arrival order (sub-events first, parent
 * last). Memory is bounded: at most `maxIds` ids wait at once; past that the id waiting
 * longest is emitted as it stands (a group without its parent).
 *
 * @example
 * const g = new Grouper<string>((group) => console.log(group), 1000);
 * g.add(id, 'request.sql', sqlJson); g.add(id, 'request', requestJson); // logs both
 */
export class Grouper<T> {
  /** Open groups by id; a Map iterates in insertion order, so the first is the oldest. */
  private readonly open = new Map<string, T[]>();
  /** Groups emitted without their parent because the bound was reached. */
  evicted = 0;

  constructor(
    private readonly emit: (group: T[]) => void,
    readonly maxIds: number = DEFAULT_GROUP_MAX,
  ) {
    if (!Number.isInteger(maxIds) || maxIds < 1) throw new ZiggyError('BAD_CONFIG', `maxIds: expected a positive integer, got ${maxIds}`, { option: 'maxIds' });
  }

  /** Ids waiting for their parent. */
  get size(): number {
    return this.open.size;
  }

  /** Adds one event. Events without an id form a group of their own. */
  add(id: string | undefined, type: string | undefined, item: T): void {
    if (id === undefined) {
      this.emit([item]);
      return;
    }
    const group = this.open.get(id);
    if (isParentType(type)) {
      if (group === undefined) {
        this.emit([item]);
      } else {
        this.open.delete(id);
        group.push(item);
        this.emit(group);
      }
      return;
    }
    if (group !== undefined) {
      group.push(item);
      return;
    }
    this.open.set(id, [item]);
    if (this.open.size > this.maxIds) {
      const [oldest, waiting] = this.open.entries().next().value as [string, T[]];
      this.open.delete(oldest);
      this.evicted++;
      this.emit(waiting);
    }
  }

  /** Emits every open group, oldest first (at the end of the input). */
  flush(): void {
    const groups = [...this.open.values()];
    this.open.clear();
    for (const g of groups) this.emit(g);
  }
}
