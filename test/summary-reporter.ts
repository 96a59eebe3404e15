// Prints one plain line at the very end of a vitest run, for CI:  `N passed, N failed[, N skipped]`
// Counts tests, not files. A test file that fails to load, or a suite whose hooks fail without any
// of its tests failing, counts as 1 failure; unhandled errors count as 1 failure, since they fail the run.
// With TSPOD_SUMMARY_FILE set, the same line is also written to that file.
import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  async onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<unknown>,
  ): Promise<void> {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++; // skipped, todo, or never run (pending)
      }
      // a suite whose hooks failed (its tests show up as skipped) counts as one failure
      for (const suite of mod.children.allSuites()) {
        if (suite.errors().length === 0) continue;
        let anyFailed = false;
        for (const t of suite.children.allTests()) if (t.result().state === 'failed') anyFailed = true;
        if (!anyFailed) failedHere++;
      }
      // a file that failed to load, or whose top-level hooks failed
      if (failedHere === 0 && (mod.errors().length > 0 || mod.state() === 'failed')) failedHere = 1;
      failed += failedHere;
    }
    if (unhandledErrors.length > 0) failed++;

    let line = `${passed} passed, ${failed} failed`;
    if (skipped > 0) line += `, ${skipped} skipped`;
    // Let the default reporter print its own summary (its onFinished runs right after this
    // hook's synchronous part) so that this line comes last.
    await new Promise((resolve) => setImmediate(resolve));
    process.stdout.write(`${line}\n`);
    const file = process.env.TSPOD_SUMMARY_FILE;
    if (file) {
      try {
        writeFileSync(file, `${line}\n`);
      } catch {
        // best effort
      }
    }
  }
}
