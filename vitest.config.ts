import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  // Examples import the package by name, as users do; under test that name means the source.
  resolve: {
    alias: [
      { find: /^gradtx$/, replacement: src("index.ts") },
      { find: /^gradtx\/laws$/, replacement: src("laws/index.ts") },
      { find: /^gradtx\/losses$/, replacement: src("losses/index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "docs/examples/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    // One worker per core: vitest's default leaves one core idle, which on a 2-core machine
    // runs the files one at a time.
    maxWorkers: availableParallelism(),
  },
});
