// Mutation testing of the schedules, the checkpoint format, the clipping transformations and
// Lookahead's construction and slowParams: `npm run test:mutation` (not part of `npm test`; it
// takes several minutes). Mutants of strings (error messages) are not made, so the score counts
// the behaviour the tests pin, not the wording.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  mutate: [
    "src/optimizers/schedules.ts",
    "src/checkpoints/serialize.ts",
    "src/transforms/clipping.ts",
    "src/lookahead/lookahead.ts",
  ],
  mutator: { excludedMutations: ["StringLiteral"] },
  coverageAnalysis: "perTest",
  concurrency: 2,
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  thresholds: { high: 95, low: 90, break: 90 },
};
