// How the specs start a ziggyd process: the built CLI when it is newer than its sources,
// else the sources through swc (so a spec run straight after an edit tests the edit).
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
const BUILT = join(ROOT, 'dist/cli/ziggyd.js');

function newestSource(): number {
  let newest = statSync(join(ROOT, 'cli/ziggyd.ts')).mtimeMs;
  for (const dir of ['src/daemon', 'src/protocol']) {
    for (const f of readdirSync(join(ROOT, dir))) newest = Math.max(newest, statSync(join(ROOT, dir, f)).mtimeMs);
  }
  return newest;
}

function ziggydCommand(): string[] {
  try {
    if (statSync(BUILT).mtimeMs >= newestSource()) return [BUILT];
  } catch {
    // not built
  }
  return ['-r', '@swc-node/register', join(ROOT, 'cli/ziggyd.ts')];
}

/** The node arguments that run ziggyd; add its own options after them. */
export const ZIGGYD_COMMAND: readonly string[] = ziggydCommand();
