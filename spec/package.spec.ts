import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './helpers/net';

// The package as users install it: `npm pack`, `npm install` of the tarball into a fresh
// app that has its own tsyringe 4.8.0, a consumer compiled with node10 resolution, run.
const run = promisify(execFile);
const root = resolve(__dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackageJson {
  exports: Record<string, unknown>;
  typesVersions: Record<string, Record<string, string[]>>;
  engines: { node: string };
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

async function packageJson(): Promise<PackageJson> {
  return JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson;
}

/** `npm` in `cwd`, failing with what npm printed. */
async function npmIn(cwd: string, args: string[], timeout: number): Promise<string> {
  try {
    return (await run(npm, args, { cwd, timeout, maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

describe('package', () => {
  describe('package.json', () => {
    it('has tsyringe and reflect-metadata as peer dependencies (and dev ones for the repo)', async () => {
      const p = await packageJson();
      for (const name of ['tsyringe', 'reflect-metadata']) {
        expect(p.dependencies, name).not.to.have.property(name);
        expect(p.peerDependencies, name).to.have.property(name);
        expect(p.devDependencies, name).to.have.property(name);
      }
      expect(p.peerDependencies.tsyringe).to.equal('^4.8.0');
    });

    it('maps every subpath export to its types for moduleResolution node10', async () => {
      const p = await packageJson();
      const subpaths = Object.entries(p.exports).filter(([k]) => k !== '.' && k !== './package.json');
      const mapped = p.typesVersions['*'];
      expect(Object.keys(mapped).sort()).to.deep.equal(subpaths.map(([k]) => k.slice(2)).sort());
      for (const [k, target] of subpaths) expect(mapped[k.slice(2)], k).to.deep.equal([(target as { types: string }).types.slice(2)]);
    });

    it('says in engines exactly the Node versions that are tested', async () => {
      expect((await packageJson()).engines.node).to.equal('^20.19 || ^22.12 || ^24 || ^26');
    });
  });

  describe('installed from its tarball into a fresh app', function () {
    this.timeout(120_000);
    let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
    after(async () => dir?.remove());

    it("type-checks under node10 with the app's own tsyringe 4.8.0, and runs a daemon and a client", async function () {
      try {
        await run(npm, ['ping', '--loglevel=error', '--fetch-retries=0'], { timeout: 15_000 });
      } catch {
        console.log('      skipped: npm cannot reach the registry (npm ping failed)');
        this.skip();
      }
      dir = await tempDir('ziggy-pack-');
      // `npm pack` runs `prepare`, the build, so the tarball holds what the sources say;
      // under `npm test`, whose pretest has just built, once is enough.
      const built = process.env.npm_lifecycle_event === 'test' ? ['--ignore-scripts'] : [];
      const packed = JSON.parse(await npmIn(root, ['pack', ...built, '--json', '--silent', '--pack-destination', dir.path], 90_000)) as {
        filename: string;
        files: { path: string }[];
      }[];
      const shipped = packed[0].files.map((f) => f.path);
      expect(shipped).to.include('LICENSE');
      expect(
        shipped.filter((f) => f.endsWith('.map')),
        'source maps without their sources',
      ).to.deep.equal([]);

      const app = join(dir.path, 'app');
      await run('mkdir', [app]);
      await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
      await npmIn(
        app,
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          join(dir.path, packed[0].filename),
          'tsyringe@4.8.0',
          'reflect-metadata@0.2.2',
        ],
        90_000,
      );
      await copyFile(join(root, 'spec/fixtures/package/consumer.ts'), join(app, 'consumer.ts'));
      // Every subpath the package exports, imported as a user would.
      const subpaths = Object.keys((await packageJson()).exports).filter((k) => k !== './package.json');
      await writeFile(
        join(app, 'subpaths.ts'),
        subpaths.map((k, i) => `import type * as s${i} from '${join('ziggy', k)}';\nexport type S${i} = typeof s${i};\n`).join(''),
      );
      await writeFile(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'commonjs',
            moduleResolution: 'node10',
            strict: true,
            esModuleInterop: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')],
            outDir: 'out',
          },
          files: ['consumer.ts', 'subpaths.ts'],
        }),
      );
      try {
        await run(process.execPath, [tsc, '-p', app], { cwd: app, timeout: 60_000 });
      } catch (e) {
        throw new Error(`the consumer does not compile: ${(e as { stdout?: string }).stdout}`);
      }
      const { stdout } = await run(process.execPath, [join(app, 'out/consumer.js')], { cwd: app, timeout: 20_000 });
      expect(JSON.parse(stdout)).to.deep.equal({
        tsyringe: true,
        tsyringeVersion: '4.8.0',
        middleware: 'function',
        events: ['order'],
        files: ['order-DAY.bson'],
      });
    });
  });
});
