// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "dist-examples/",
      "dist-fixtures/",
      "docs/api/",
      "coverage/",
      ".stryker-tmp/",
      "reports/",
      "dist-browser/",
      "docs/playground/playground.js",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: "readonly", process: "readonly", performance: "readonly", structuredClone: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Pages and their scripts (the browser test, the playground), and the scripts that build and serve them.
    files: ["test/browser/**", "docs/playground/**"],
    languageOptions: {
      globals: {
        document: "readonly",
        window: "readonly",
        URL: "readonly",
        WebAssembly: "readonly",
        setTimeout: "readonly",
        requestAnimationFrame: "readonly",
      },
    },
  },
  {
    // import.meta is an error to tsc's CommonJS build, which compiles this file and then replaces
    // it with web-worker.cjs; the ESM build needs the line as it is (see the file's comment).
    files: ["src/web-worker.ts"],
    rules: { "@typescript-eslint/ban-ts-comment": ["error", { "ts-ignore": "allow-with-description" }] },
  },
  {
    // CommonJS files (the smoke test of require("gradtx")): require is how they import.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
