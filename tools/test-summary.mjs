#!/usr/bin/env node
// Prints one closing line, "N passed, N failed, N skipped", over the Vitest JSON reports
// named on the command line (test-results/<name>.json), so any CI reader can count.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0, failed = 0, skipped = 0;
const names = process.argv.slice(2);
for (const name of names) {
  const file = `test-results/${name}.json`;
  if (!existsSync(file)) { console.error(`test-summary: ${file} missing`); failed += 1; continue; }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  // A suite that fails to load has no failed tests: count it so it cannot pass silently.
  failed += Math.max(r.numFailedTests ?? 0, r.numFailedTestSuites ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
console.log(`${names.join('+')}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
