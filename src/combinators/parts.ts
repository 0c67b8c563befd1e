/**
 * What the combinators share: running a transformation on some of the leaves and putting its
 * output back in place (`masked`, `multiTransform`), checking per-leaf specifications when a
 * combinator is built, and zero updates (`applyIfFinite`, `multiSteps`).
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { GradTxError } from "../errors.js";
import { selectLeaves } from "../partition.js";
import {
  asLeafLike,
  assertSameStructure,
  ctorOf,
  flatten,
  formatPath,
  isLeaf,
  MAX_DEPTH,
  sizeOf,
  unflatten,
  type Flat,
  type Leaf,
  type PyTree,
} from "../pytree.js";

/** The params flattened and checked against the updates, or `undefined` when none were given. */
export function optionalParams(params: PyTree | undefined, updates: Flat): Flat | undefined {
  if (params === undefined) return undefined;
  const flat = flatten(params);
  assertSameStructure(flat, updates);
  return flat;
}

/**
 * Runs `tx` on the selected leaves of `updates` (and of `params`): it sees trees in which every
 * other leaf is `null`, an empty subtree. Returns its output leaves, one per selected leaf in
 * canonical order, and its next state. An output of another structure is an error of `tx`.
 */
export function runOnPart<S>(
  where: string,
  tx: GradientTransformation<S>,
  state: S,
  updates: Flat,
  selected: readonly boolean[],
  params: Flat | undefined,
): readonly [readonly Leaf[], S] {
  const part = selectLeaves(updates, selected);
  const [out, next] = tx.update(part, state, params === undefined ? undefined : selectLeaves(params, selected));
  const result = flatten(out);
  try {
    assertSameStructure(flatten(part), result);
  } catch (e) {
    if (e instanceof GradTxError)
      throw new GradTxError(
        e.code,
        `${where}: the inner transformation returned updates of another structure (${e.message})`,
      );
    throw e;
  }
  return [result.leaves, next];
}

/** Replaces, in place, each selected entry of `leaves` (a fresh array) by the next of `outputs`. */
export function placeLeaves(leaves: PyTree[], selected: readonly boolean[], outputs: readonly Leaf[]): void {
  let next = 0;
  for (let i = 0; i < selected.length; i++) if (selected[i]) leaves[i] = outputs[next++];
}

/** Zero updates shaped like `updates`: each leaf's dtype and kind, without reading its elements. */
export function zeroUpdates(updates: Flat): PyTree {
  return unflatten(
    updates.def,
    updates.leaves.map((leaf) => asLeafLike(leaf, new (ctorOf(leaf))(sizeOf(leaf)))),
  );
}

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
