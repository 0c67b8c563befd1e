/**
 * Runs the `@example` blocks of the doc comments, turning their comments into assertions.
 *
 * The convention (every example in `src/` follows it; a comment that breaks it fails the test):
 *
 * 1. `expr; // value`: a trailing comment on a top-level expression statement asserts that the
 *    expression's value equals `value`. Every such comment is an assertion: prose goes on a
 *    line of its own.
 * 2. `// path = value` and `// path ≈ value` (trailing any top-level statement, or on a line of
 *    their own) assert the variable or property path (`u`, `state.count`, `u.layer.w`, `x[0]`)
 *    as it stands there. Several are separated by `; `.
 * 3. `value` is a JavaScript expression, evaluated in the example's scope: a literal, an array,
 *    an object, `Float32Array.of(1, 2)`, or arithmetic such as `2 / Math.sqrt(0.4 + 1e-8)`. An
 *    explanation may follow it after `: `.
 * 4. `=` (and rule 1 without `≈`) is exact: numbers `===` (NaN equals NaN), arrays and objects
 *    element by element and key by key, a typed array or an ndarray equal to the array of its
 *    (row-major) elements; an expected typed array also needs the same class. `≈` allows
 *    `1e-6 * max(1, |expected|)` per number, or the absolute tolerance written after the value
 *    as `(±1e-3)`.
 * 5. Assertions sit at the top level of the example. A comment inside a block (a loop body, a
 *    `try`) that reads like one is an error rather than prose, so that it cannot be skipped
 *    unnoticed. Any other comment is prose.
 *
 * Examples are transpiled with the TypeScript API and run in this process, their imports mapped
 * to the sources (`gradtx` to `src/index.ts`), so that no file is written anywhere.
 */
import ts from "typescript";
import ndarray from "ndarray";
import * as fc from "fast-check";
import * as Either from "fp-ts/lib/Either.js";
import * as Monoid from "fp-ts/lib/Monoid.js";
import * as gradtx from "../src/index.js";
import * as laws from "../src/laws/index.js";
import * as losses from "../src/losses/index.js";

/** One `@example` block. */
export interface Example {
  /** The file, relative to the repository. */
  readonly file: string;
  /** The line of the opening fence. */
  readonly line: number;
  /** What the doc comment documents (the next declaration's name), for the report. */
  readonly name: string;
  /** The code, without the comment's leading `*`. */
  readonly code: string;
}

/** Everything an example may import. */
const MODULES: Readonly<Record<string, unknown>> = {
  gradtx,
  "gradtx/laws": laws,
  "gradtx/losses": losses,
  "fast-check": fc,
  "fp-ts/lib/Either.js": Either,
  "fp-ts/lib/Monoid.js": Monoid,
  // A CommonJS module with a default export, as the transpiled require expects it.
  ndarray,
};

/** The `@example` blocks of a source file's doc comments. Throws for an `@example` without a ```ts block. */
export function examplesIn(file: string, source: string): Example[] {
  const out: Example[] = [];
  for (const doc of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const lines = doc[0].split("\n").map((l) => l.replace(/^\s*\/?\*+\/?\s?/, ""));
    const startLine = source.slice(0, doc.index).split("\n").length;
    const after = source.slice(doc.index + doc[0].length);
    const name =
      /^\s*export\s+(?:declare\s+)?(?:async\s+)?(?:function|const|class|interface|type|let)\s+([\w$]+)/.exec(
        after,
      )?.[1] ?? (/@packageDocumentation|@module/.test(doc[0]) ? "(module)" : "(anonymous)");
    for (let i = 0; i < lines.length; i++) {
      if (!/^@example\b/.test(lines[i]!.trim())) continue;
      const fence = lines.findIndex((l, j) => j > i && l.trim() !== "");
      if (fence < 0 || lines[fence]!.trim() !== "```ts")
        throw new Error(`${file}:${startLine + i}: @example is not followed by a \`\`\`ts block`);
      const close = lines.findIndex((l, j) => j > fence && l.trim() === "```");
      if (close < 0) throw new Error(`${file}:${startLine + fence}: unclosed \`\`\`ts block`);
      out.push({ file, line: startLine + fence, name, code: lines.slice(fence + 1, close).join("\n") });
      i = close;
    }
  }
  return out;
}

/** Whether `text` parses as a JavaScript expression (it is not evaluated). */
function isExpression(text: string): boolean {
  if (text.trim() === "") return false;
  try {
    new Function(`"use strict"; return (${text}\n);`);
    return true;
  } catch {
    return false;
  }
}

/** An assertion's expected side: the value's source, and how to compare. */
interface Expected {
  readonly value: string;
  readonly approx: boolean;
  /** An absolute tolerance written as `(±t)`, or null for the default. */
  readonly tolerance: string | null;
}

/** Reads `[≈] value [(±t)] [: prose]`, or returns null if no prefix of it is an expression. */
function readExpected(text: string, approx: boolean): Expected | null {
  let rest = text.trim();
  if (rest.startsWith("≈")) [approx, rest] = [true, rest.slice(1).trim()];
  const withTolerance = /^(.*?)\s*\(±\s*([^)]+)\)\s*(?::\s.*)?$/.exec(rest);
  if (withTolerance !== null) {
    const [, value, tolerance] = withTolerance;
    return isExpression(value!) && isExpression(tolerance!)
      ? { value: value!, approx: true, tolerance: tolerance! }
      : null;
  }
  // The longest prefix that is an expression, cutting only where an explanation may start.
  const cuts = [rest.length, ...[...rest.matchAll(/: /g)].map((m) => m.index).reverse()];
  for (const cut of cuts) {
    const value = rest.slice(0, cut).trim();
    if (isExpression(value)) return { value, approx, tolerance: null };
  }
  return null;
}

/** Splits at `; ` outside brackets and strings. */
function splitAssertions(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === ";" && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const PATH = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\])*)\s*(=(?!=)|≈)\s*(.+)$/;

/** `path = value` assertions in a comment, or null if it is not of that form. */
function pathAssertions(text: string): { path: string; expected: Expected | null }[] | null {
  const parts = splitAssertions(text);
  if (parts.length === 0 || !PATH.test(parts[0]!)) return null;
  return parts.map((part) => {
    const m = PATH.exec(part);
    if (m === null) return { path: part, expected: null };
    return { path: m[1]!, expected: readExpected(m[3]!, m[2] === "≈") };
  });
}

/** Every `//` comment of the code, each once. */
function commentsOf(code: string, file: ts.SourceFile): ts.CommentRange[] {
  const seen = new Map<number, ts.CommentRange>();
  const add = (ranges: readonly ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) if (r.kind === ts.SyntaxKind.SingleLineCommentTrivia) seen.set(r.pos, r);
  };
  const visit = (node: ts.Node) => {
    add(ts.getLeadingCommentRanges(code, node.pos));
    add(ts.getTrailingCommentRanges(code, node.end));
    ts.forEachChild(node, visit);
  };
  visit(file);
  add(ts.getLeadingCommentRanges(code, file.endOfFileToken.pos));
  return [...seen.values()].sort((a, b) => a.pos - b.pos);
}

/** The example's code with its assertions inserted as `__check(...)` calls. */
export function instrument(example: Example): string {
  const { code } = example;
  const file = ts.createSourceFile("example.ts", code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const lineOf = (pos: number) => example.line + file.getLineAndCharacterOfPosition(pos).line + 1;
  const fail = (pos: number, message: string): never => {
    throw new Error(`${example.file}:${lineOf(pos)} (${example.name}): ${message}`);
  };
  /** Insertions at positions, and statements to replace by a captured value. */
  const inserts: { at: number; text: string }[] = [];
  const replaced = new Map<ts.Statement, string>();
  let captured = 0;
  const check = (at: number, actual: string, expected: Expected, what: string) => {
    const label = JSON.stringify(`${example.file}:${lineOf(at)} (${example.name}): ${what}`);
    inserts.push({
      at,
      text: `\n__check(${label}, () => (${actual}), () => (${expected.value}), ${expected.approx}, ${expected.tolerance ?? "null"});`,
    });
  };
  for (const comment of commentsOf(code, file)) {
    const text = code.slice(comment.pos + 2, comment.end).trim();
    const lineEnd = code.indexOf("\n", comment.end) < 0 ? code.length : code.indexOf("\n", comment.end);
    const inside = file.statements.find((s) => s.getStart() <= comment.pos && comment.pos < s.end);
    if (inside !== undefined) {
      const value = text.split(": ")[0]!;
      if (pathAssertions(text) !== null || isExpression(value))
        fail(comment.pos, `an assertion inside a block is not run; move it to the top level: // ${text}`);
      continue;
    }
    const before = [...file.statements].reverse().find((s) => s.end <= comment.pos);
    const trailing = before !== undefined && !code.slice(before.end, comment.pos).includes("\n");
    const paths = pathAssertions(text);
    if (paths !== null) {
      for (const { path, expected } of paths) {
        if (expected === null) fail(comment.pos, `cannot read the expected value in // ${text}`);
        check(lineEnd, path, expected!, `${path} ${expected!.approx ? "≈" : "="} ${expected!.value}`);
      }
      continue;
    }
    if (!trailing) continue; // prose on a line of its own
    if (ts.isExpressionStatement(before!)) {
      const expected = readExpected(text, false);
      if (expected === null)
        fail(comment.pos, `a comment after an expression states its value; put prose on its own line: // ${text}`);
      const name = `__value${captured++}`;
      replaced.set(before!, `const ${name} = (${before!.expression.getText()});`);
      const shown = before!.expression.getText().replace(/\s+/g, " ");
      check(lineEnd, name, expected!, `${shown} ${expected!.approx ? "≈" : "="} ${expected!.value}`);
    } else if (isExpression(text.split(": ")[0]!))
      fail(comment.pos, `say which variable this value is: // name = ${text}`);
  }
  // Apply from the end, so that earlier positions stay valid.
  const edits = [
    ...inserts.map((i) => ({ start: i.at, end: i.at, text: i.text })),
    ...[...replaced].map(([s, text]) => ({ start: s.getStart(), end: s.end, text })),
  ].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = code;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** What differs between `actual` and `expected`, or null when they are equal under the rules. */
function difference(
  actual: unknown,
  expected: unknown,
  approx: boolean,
  tolerance: number | null,
  at: string,
): string | null {
  const where = at === "" ? "" : ` at ${at}`;
  const show = (x: unknown) => {
    if (ArrayBuffer.isView(x))
      return `${x.constructor.name} [${Array.from(x as unknown as ArrayLike<number>).join(", ")}]`;
    try {
      return JSON.stringify(x) ?? String(x);
    } catch {
      return String(x);
    }
  };
  if (typeof expected === "number") {
    if (typeof actual !== "number") return `expected ${expected}${where}, got ${show(actual)}`;
    if (Number.isNaN(expected) && Number.isNaN(actual)) return null;
    const ok = approx
      ? Math.abs(actual - expected) <= (tolerance ?? 1e-6 * Math.max(1, Math.abs(expected)))
      : actual === expected;
    return ok ? null : `expected ${expected}${where}, got ${actual}`;
  }
  const elements = (x: unknown): unknown[] | null => {
    if (Array.isArray(x)) return x;
    if (x instanceof Float32Array || x instanceof Float64Array) return Array.from(x);
    if (gradtx.isLeaf(x)) return dataOfLeaf(x);
    return null;
  };
  if (ArrayBuffer.isView(expected) && (!ArrayBuffer.isView(actual) || actual.constructor !== expected.constructor))
    return `expected a ${expected.constructor.name}${where}, got ${show(actual)}`;
  const e = elements(expected);
  if (e !== null) {
    const a = elements(actual);
    if (a === null) return `expected an array ${show(expected)}${where}, got ${show(actual)}`;
    if (a.length !== e.length) return `expected ${e.length} elements${where}, got ${a.length}: ${show(actual)}`;
    for (let i = 0; i < e.length; i++) {
      const d = difference(a[i], e[i], approx, tolerance, `${at}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null) return `expected an object${where}, got ${show(actual)}`;
    const ek = Object.keys(expected).sort();
    const ak = Object.keys(actual).sort();
    if (ek.join(",") !== ak.join(",")) return `expected keys [${ek.join(", ")}]${where}, got [${ak.join(", ")}]`;
    for (const k of ek) {
      const d = difference(
        (actual as Record<string, unknown>)[k],
        (expected as Record<string, unknown>)[k],
        approx,
        tolerance,
        at === "" ? k : `${at}.${k}`,
      );
      if (d !== null) return d;
    }
    return null;
  }
  return actual === expected ? null : `expected ${show(expected)}${where}, got ${show(actual)}`;
}

/** The row-major elements of a leaf. */
function dataOfLeaf(leaf: gradtx.Leaf): number[] {
  if (leaf instanceof Float32Array || leaf instanceof Float64Array) return Array.from(leaf);
  const out: number[] = [];
  const index = new Array<number>(leaf.shape.length).fill(0);
  const size = leaf.shape.reduce((a, b) => a * b, 1);
  for (let n = 0; n < size; n++) {
    out.push(leaf.data[index.reduce((at, i, d) => at + i * leaf.stride[d]!, leaf.offset)]!);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < leaf.shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** The assertion an instrumented example calls. */
function check(
  label: string,
  actual: () => unknown,
  expected: () => unknown,
  approx: boolean,
  tolerance: number | null,
) {
  const d = difference(actual(), expected(), approx, tolerance, "");
  if (d !== null) throw new Error(`${label}: ${d}`);
}

/** Runs an example with its assertions; throws what fails, with the example's file and line. */
export function runExample(example: Example): void {
  const source = instrument(example);
  const { outputText, diagnostics } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    reportDiagnostics: true,
  });
  if (diagnostics !== undefined && diagnostics.length > 0)
    throw new Error(
      `${example.file}:${example.line} (${example.name}): ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, "\n")}`,
    );
  const require = (name: string): unknown => {
    if (!Object.hasOwn(MODULES, name))
      throw new Error(`${example.file}:${example.line}: an example may not import ${name}`);
    return MODULES[name];
  };
  const module = { exports: {} };
  new Function("require", "exports", "module", "__check", outputText)(require, module.exports, module, check);
}
