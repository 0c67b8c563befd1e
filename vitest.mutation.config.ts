/** The tests that exercise the files under mutation testing (stryker.config.mjs). */
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // The fast, focused tests of those files (not mergeConfig: it would append to base's list).
    include: [
      "test/schedules.test.ts",
      "test/optax-edges.test.ts",
      "test/serialize.test.ts",
      "test/serialize-format.test.ts",
      "test/hostile-shapes.test.ts",
      "test/transforms/clipping.test.ts",
    ],
  },
});
