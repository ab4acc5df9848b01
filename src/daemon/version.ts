import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The package.json sits at a different depth from src/ (ts-node, specs) and dist/src/
// (the build), so look upwards for it rather than hard-coding a relative path.
function findVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ziggy' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep looking
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return '0.0.0';
}

/** This package's version, as reported by STATUS and `ziggyd --version`. */
export const VERSION = findVersion();
