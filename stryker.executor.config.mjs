// Mutation testing of the executor's core: `npm run test:mutation:executor` (not part of
// `npm test`; about half an hour on two cores, so apart from `npm run test:mutation`). The core
// is what every transformation runs through: the initial state of kernels, chains and Lookahead,
// the plan of those nodes (their state checks, Lookahead's sync and policies), the opaque
// barrier and `updateNode` (checks, barriers, applying in place, the very same arrays). The
// combinator nodes (masked, multiTransform, injectHyperparams, applyIfFinite, multiSteps) and
// the pass runner are left to their bit-for-bit tests, which are too slow to run per mutant.
import base from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: "vitest.mutation-executor.config.ts" },
  mutate: ["src/kernels/executor.ts:70-105", "src/kernels/executor.ts:254-403", "src/kernels/executor.ts:505-600"],
  // The core runs in nearly every test, so a slow machine times mutants out; give them room.
  timeoutFactor: 3,
  htmlReporter: { fileName: "reports/mutation-executor/index.html" },
};
