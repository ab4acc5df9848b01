// Loaded by mocha before any spec: tsyringe needs reflect-metadata first.
import 'reflect-metadata';

// The client warns through process.emitWarning when it rejects or drops something, and
// many specs provoke exactly that on purpose. Node's default handler would print each
// one into the test output; here they are kept quiet, and any other warning still shows.
// Specs that check a warning listen for it themselves.
process.removeAllListeners('warning');
process.on('warning', (w: Error) => {
  if (w.name !== 'ZiggyWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});
