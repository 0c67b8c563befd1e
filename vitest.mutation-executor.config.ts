/** The tests that exercise the executor's core (stryker.executor.config.mjs). */
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // As in vitest.mutation.config.ts: transformations are built inside the tests, so that a
    // mutant that breaks one fails tests rather than a file's collection (stryker-js#6150).
    include: [
      "test/executor.test.ts",
      "test/lookahead.test.ts",
      "test/adaptive-alpha.test.ts",
      "test/donate.test.ts",
      "test/transforms/*.test.ts",
    ],
  },
});
