// The coverage policy, as tap's `coverage-map` (package.json "tap"): tap calls the
// default export with each test file's path relative to the project root and
// collects coverage, for that file's run, only of the sources it returns (null: none).
//
// Policy: the storage layer, src/record and src/log, must be 100% covered (lines,
// branches, functions, statements: tap's default thresholds) by the tests under
// test/record and test/log. Every other test runs without coverage, so the rest of
// the tree is not gated, and tests elsewhere (simulation, CLI, ...) that happen to
// run storage code do not count towards its coverage. test/coverage-scope.test.ts
// loads every storage module, so that one no test imports shows up as uncovered
// instead of being left out of the report.
//
// `npm run coverage` reports the coverage of the whole tree without gating it
// (scripts/tap-coverage-all.mjs).
const GATED = ['src/record/**/*.ts', 'src/log/**/*.ts']

export default function coverageMap(testFile) {
  if (/^test\/(record|log)\//.test(testFile) || testFile === 'test/coverage-scope.test.ts') return GATED
  return null
}
