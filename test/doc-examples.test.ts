/**
 * Every `@example` in the doc comments runs, and its comments are assertions (the convention is
 * in doc-examples.ts). The runner itself is checked to report a wrong example.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { examplesIn, instrument, runExample, type Example } from "./doc-examples.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const sources = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => join(root, "src", f))
  .sort();
const examples = sources.flatMap((path) => examplesIn(relative(root, path), readFileSync(path, "utf8")));

describe("every @example in src/ runs, its comments checked", () => {
  it("finds one block per @example tag", () => {
    const tags = sources.reduce(
      (n, path) => n + (readFileSync(path, "utf8").match(/^\s*\* @example\b/gm) ?? []).length,
      0,
    );
    expect(examples.length).toBe(tags);
    expect(examples.length).toBeGreaterThan(80);
  });

  it.each(examples.map((e) => [`${e.file}:${e.line} ${e.name}`, e] as const))("%s", (_, example) => {
    runExample(example);
  });
});

/** A synthetic example, as the extractor would give it. */
const example = (code: string): Example => ({ file: "synthetic.ts", line: 1, name: "synthetic", code });
const imports = 'import { constantSchedule, scale, tree } from "gradtx";\n';

describe("the runner reports what is wrong", () => {
  it("passes a correct example, every form of assertion included", () => {
    runExample(
      example(
        imports +
          "const s = constantSchedule(0.25);\n" +
          "s(3); // 0.25\n" +
          "s(3) * 3; // ≈ 0.75\n" +
          "const tx = scale(-0.5);\n" +
          "const g = Float64Array.of(2, 4);\n" +
          "const [u] = tx.update(g, tx.init(g)); // u = [-1, -2]\n" +
          "// u ≈ [-1.0004, -2] (±1e-3): a tolerance; u[0] = -1\n" +
          "tree.zerosLike({ w: new Float32Array(2) }); // { w: Float32Array.of(0, 0) }: the class is checked\n" +
          "// and this is prose\n",
      ),
    );
  });

  const wrong: [string, string, RegExp][] = [
    ["a wrong value after an expression", "constantSchedule(0.1)(5); // 0.2", /expected 0.2, got 0.1/],
    [
      "a wrong named value",
      "const [u] = scale(2).update(Float64Array.of(1), scale(2).init(Float64Array.of(1))); // u = [3]",
      /u = \[3\]: expected 3 at \[0\], got 2/,
    ],
    ["an approximation too far off", "const x = 1.01;\n// x ≈ 1", /x ≈ 1: expected 1, got 1.01/],
    [
      "a missing element",
      "const [u] = scale(2).update(Float64Array.of(1, 1), scale(2).init(Float64Array.of(1, 1))); // u = [2]",
      /expected 1 elements, got 2/,
    ],
    [
      "another typed array class",
      "tree.zerosLike(new Float32Array(1)); // Float64Array.of(0)",
      /expected a Float64Array/,
    ],
    ["a wrong key", "const o = { a: 1 };\n// o = { b: 1 }", /expected keys \[b\], got \[a\]/],
    [
      "prose after an expression",
      "constantSchedule(0.1)(5); // about a tenth",
      /states its value; put prose on its own line/,
    ],
    ["a value after a declaration", "const a = constantSchedule(1)(0); // 2", /say which variable this value is/],
    [
      "an assertion in a block",
      "for (let i = 0; i < 2; i++) {\n  constantSchedule(1)(i); // 1\n}",
      /inside a block is not run/,
    ],
    ["an unreadable expected value", "const a = 1;\n// a = [1, 2", /cannot read the expected value/],
  ];
  it.each(wrong)("%s", (_, code, message) => {
    expect(() => runExample(example(imports + code))).toThrowError(message);
  });

  it("names the file and line of a failing assertion", () => {
    const e: Example = { file: "src/x.ts", line: 10, name: "x", code: imports + "\nconstantSchedule(1)(0); // 2" };
    expect(() => runExample(e)).toThrowError(
      /^src\/x\.ts:13 \(x\): constantSchedule\(1\)\(0\) = 2: expected 2, got 1$/,
    );
    expect(instrument(e)).toContain("__check(");
  });

  it("extracts examples from doc comments, and refuses an @example without a ts block", () => {
    const source = "/**\n * Doc.\n *\n * @example\n * ```ts\n * f(); // 1\n * ```\n */\nexport function f() {}\n";
    expect(examplesIn("a.ts", source)).toEqual([{ file: "a.ts", line: 5, name: "f", code: "f(); // 1" }]);
    expect(() => examplesIn("a.ts", "/**\n * @example\n * f();\n */\nexport const f = 1;\n")).toThrowError(
      /a.ts:2: @example is not followed by a ```ts block/,
    );
  });
});
