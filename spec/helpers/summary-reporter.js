'use strict';
// The spec reporter, followed by one closing line in the form CI reads:
// "N passed, N failed" (", N skipped" when any test was skipped).
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      const skipped = s.pending > 0 ? `, ${s.pending} skipped` : '';
      // After the spec reporter's epilogue, so this stays the last line.
      process.nextTick(() => process.stdout.write(`${s.passes} passed, ${s.failures} failed${skipped}\n`));
    });
  }
}

module.exports = SummaryReporter;
