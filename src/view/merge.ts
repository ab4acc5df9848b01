import { readRoutingFields } from '../protocol/codec';
import type { BsonReader } from './read';

/** Called with each document in turn; a returned promise is awaited (to flush output). */
export type DocumentVisitor = (reader: BsonReader, size: number) => void | Promise<void>;

interface Head {
  reader: BsonReader;
  size: number;
  /** The document's `end`, or the reader's previous one when it has none. */
  key: number;
  /** The reader's position in the input list, to keep ties stable. */
  order: number;
}

/**
 * Visits the documents of several readers in `end` order: a k-way merge that holds one
 * document per reader, so it streams in constant memory. Each input is taken to be in
 * arrival order already; a document without a numeric `end` keeps its place after the
 * one before it in the same input.
 */
export async function mergeByEnd(readers: readonly BsonReader[], visit: DocumentVisitor): Promise<void> {
  const heap: Head[] = [];
  for (let i = 0; i < readers.length; i++) {
    const reader = readers[i];
    const size = await nextDocument(reader);
    if (size > 0) {
      heap.push({ reader, size, key: endOf(reader, size, -Infinity), order: i });
      siftUp(heap, heap.length - 1);
    }
  }
  while (heap.length > 0) {
    const head = heap[0];
    const r = head.reader;
    const pending = visit(r, head.size);
    if (pending) await pending;
    r.pos += head.size;
    let size = r.next();
    if (size === 0) size = await nextDocument(r);
    if (size === 0) {
      const last = heap.pop()!;
      if (heap.length === 0) break;
      heap[0] = last;
    } else {
      head.size = size;
      head.key = endOf(r, size, head.key);
    }
    siftDown(heap, 0);
  }
}

/** Reads until a whole document is at `reader.pos`; its size, or 0 at the end. */
export async function nextDocument(reader: BsonReader): Promise<number> {
  for (;;) {
    const size = reader.next();
    if (size > 0) return size;
    if (!(await reader.fill())) return 0;
  }
}

function endOf(reader: BsonReader, size: number, previous: number): number {
  const fields = readRoutingFields(reader.buf, reader.pos, size);
  if (!fields.ok) throw reader.corrupt(fields.problem);
  const end = fields.end;
  return typeof end === 'number' && end === end ? end : previous;
}

function before(a: Head, b: Head): boolean {
  return a.key < b.key || (a.key === b.key && a.order < b.order);
}

function siftUp(heap: Head[], i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) return;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

function siftDown(heap: Head[], i: number): void {
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < n && before(heap[l], heap[m])) m = l;
    if (r < n && before(heap[r], heap[m])) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m], heap[i]];
    i = m;
  }
}
