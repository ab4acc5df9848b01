import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/net';

// The spec runner compiles specs with swc in legacy mode, so the fixture is compiled here
// with the project's own tsc, once per mode, and run in a child process.
const run = promisify(execFile);
const root = resolve(__dirname, '../..');
const fixtures = join(root, 'spec/fixtures/decorators');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The fixture's output in either mode: the same semantics, event for event. */
const EXPECTED = {
  names: ['sync', 'asyncMethod', 'make', 'd'],
  lengths: [2, 1, 1],
  results: ['3', 8, '=rows', { message: 'sync failure' }, 'RangeError: async failure', [1, 2, 3, 4, 5, 6, 7, 8], 'Repo', 'saved', 'own', 1],
  thenableStarts: 1,
  outside: ['=4', '-0'],
  misuse: [
    { code: 'BAD_CONFIG', message: '@Timeit can only decorate methods (not fields or accessors)' },
    { code: 'BAD_CONFIG', message: '@Sample can only decorate methods (not fields or accessors)' },
  ],
  events: [
    { type: 'request.sync', sameId: true, body: { sum: 3 } },
    { type: 'request.async', sameId: true, body: { n: 4, async_time: 'number' } },
    { type: 'request.thenable', sameId: true, body: { thenable_time: 'number' } },
    { type: 'request.failing', sameId: true, body: { exception: 'TypeError: sync failure' } },
    { type: 'request.rejecting', sameId: true, body: { exception: 'RangeError: async failure' } },
    { type: 'request.k1', sameId: true, body: { x: 7, kt1: 'number' } },
    { type: 'request.k2', sameId: true, body: { x: 8, kt2: 'number' } },
    { type: 'request.repo', sameId: true, body: {} },
    { type: 'request.repo', sameId: true, body: { save_time: 'number' } },
    { type: 'request.own', sameId: true, body: {} },
    // The dropped contexts' fields and timings reach neither a sub-event nor the request.
    { type: 'request', sameId: true, body: { static_time: 'number' } },
    { type: 'sync', sameId: false, body: { sum: 4 } },
    { type: 'sync', sameId: false, body: { sum: 0 } },
  ],
};

const MODES = [
  { mode: 'experimentalDecorators', tsconfig: 'tsconfig.legacy.json', helper: '__decorate(' },
  { mode: 'TC39 standard decorators', tsconfig: 'tsconfig.standard.json', helper: '__esDecorate(' },
];

describe('client/decorators in both compiler modes', function () {
  this.timeout(60000);
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const outDir = (tsconfig: string): string => join(dir.path, tsconfig);

  before(async () => {
    dir = await tempDir('ziggy-decorators-');
    // Both at once: each tsc run type-checks the fixture with the client's sources.
    await Promise.all(
      MODES.map(({ tsconfig }) =>
        run(process.execPath, [tsc, '-p', join(fixtures, tsconfig), '--outDir', outDir(tsconfig)], { timeout: 50000 }).catch(
          (e: { stdout?: string; message: string }) => {
            throw new Error(`tsc -p ${tsconfig} failed: ${e.stdout || e.message}`);
          },
        ),
      ),
    );
  });
  after(async () => dir?.remove());

  for (const { mode, tsconfig, helper } of MODES) {
    describe(mode, () => {
      const app = (): string => join(outDir(tsconfig), 'spec/fixtures/decorators/app.js');

      it(`type-checks and compiles with ${tsconfig} (${helper.slice(0, -1)})`, async () => {
        expect(await readFile(app(), 'utf8')).to.contain(helper);
      });

      it('records the same events: order-free stacking, sync/async/thenables, this, names, errors, classes', async () => {
        // The compiled sources sit outside the repository: NODE_PATH finds its dependencies.
        const { stdout } = await run(process.execPath, [app()], {
          env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
          timeout: 15000,
        });
        expect(JSON.parse(stdout)).to.deep.equal(EXPECTED);
      });
    });
  }
});
