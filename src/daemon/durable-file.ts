import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
export type { FsyncMode } from './config';

/**
 * With `interval`, data is fsynced every interval; an acknowledgement waiting for an
 * fsync gets one within this long (group commit: at most 20 fsyncs a second), because a
 * sender's window (and an acked client's memory) can only move as fast as acks come.
 */
export const ACK_SYNC_MS = 50;

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new contents,
 * never a mix: write a temp file, fsync it, rename it over `path`, fsync the folder (so
 * the rename itself survives a power cut).
 */
export async function replaceFile(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  await changeFile(tmp, 'w', (f) => f.writeFile(data));
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Opens `path` (`flags` as for fs.open), lets `change` write it, fsyncs it; closes it whatever happens. */
export async function changeFile(path: string, flags: string, change: (f: FileHandle) => Promise<void>): Promise<void> {
  const f = await open(path, flags);
  try {
    await change(f);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** fsync of a folder: makes a file's creation, rename or removal in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory; there is nothing more to do there.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await d.close();
  }
}
