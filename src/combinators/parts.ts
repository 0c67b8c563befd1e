/**
 * What the combinators share: checking per-leaf specifications when a combinator is built
 * (`masked`, `multiTransform`). Running a transformation on some of the leaves is the
 * executor's (see kernels/views.ts).
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import { formatPath, isLeaf, MAX_DEPTH } from "../core/pytree.js";

function describe(x: unknown): string {
  if (typeof x !== "object" || x === null) return typeof x === "string" ? JSON.stringify(x) : String(x);
  return isLeaf(x) ? "a leaf" : "an object that is neither a plain object nor an array";
}

function isPlainContainer(x: object): boolean {
  if (Array.isArray(x)) return true;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks, when a combinator is built, that `spec` is a function or a tree whose nodes are values
 * (`isValue`), arrays, plain objects and empty subtrees; `INVALID_HYPERPARAMETER` with the path
 * otherwise. Whether the tree fits the params can only be known at `init`.
 */
export function checkPerLeafSpec(
  where: string,
  spec: unknown,
  isValue: (x: unknown) => boolean,
  expected: string,
): void {
  if (typeof spec === "function") return;
  const path: (string | number)[] = [];
  const ancestors = new Set<object>();
  const visit = (node: unknown): void => {
    if (isValue(node) || node === null || node === undefined) return;
    const fail = (what: string): never => {
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `${where}: expected ${expected}, got ${what}`,
        path.length === 0 ? undefined : formatPath(path),
      );
    };
    if (typeof node !== "object" || isLeaf(node) || !isPlainContainer(node)) fail(describe(node));
    if (ancestors.has(node as object)) fail("a tree that contains itself (a cycle)");
    if (path.length >= MAX_DEPTH) fail(`a tree nested deeper than ${MAX_DEPTH} levels`);
    ancestors.add(node as object);
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((child: unknown, i) => [i, child])
      : Object.entries(node);
    for (const [key, child] of entries) {
      path.push(key);
      visit(child);
      path.pop();
    }
    ancestors.delete(node as object);
  };
  visit(spec);
}
