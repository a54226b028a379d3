/**
 * Jest's default order (slowest first, from its cache; by file size on a fresh clone), except that
 * the heavy suites (a 10,000-webhook burst, Postgres stopped under load) run last: they saturate
 * the shared Temporal dev server and both cores for minutes, and would slow every suite beside them
 * into its timeouts. Last, they run beside at most one other suite.
 */
const Sequencer = require('@jest/test-sequencer').default;

const HEAVY = /[\\/]test[\\/]ingestion[\\/]durability\.test\.ts$/;

class HeavyLastSequencer extends Sequencer {
  sort(tests) {
    const ordered = super.sort(tests);
    return [...ordered.filter((t) => !HEAVY.test(t.path)), ...ordered.filter((t) => HEAVY.test(t.path))];
  }
}

module.exports = HeavyLastSequencer;
