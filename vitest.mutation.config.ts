/** The tests that exercise the files under mutation testing (stryker.config.mjs). */
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // The fast, focused tests of those files (not mergeConfig: it would append to base's list).
    // Their transformations are built inside the tests, not at collection: Stryker's vitest runner
    // (9.6.1) scores a mutant that makes a file fail to collect as survived (stryker-js#6150).
    include: [
      "test/schedules.test.ts",
      "test/optax-edges.test.ts",
      "test/serialize.test.ts",
      "test/serialize-format.test.ts",
      "test/hostile-shapes.test.ts",
      "test/transforms/clipping.test.ts",
      "test/lookahead.test.ts",
      "test/adaptive-alpha.test.ts",
    ],
  },
});
