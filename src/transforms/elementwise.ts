/**
 * The shape every stateless elementwise transformation shares: one loop per leaf, writing into
 * a fresh array of the update's dtype, rebuilt into a tree of the update's kinds.
 *
 * @module
 */
import { asLeafLike, ctorOf, dataOf, unflatten, type Flat, type FloatArray, type PyTree } from "../pytree.js";

/** Builds a new updates tree whose leaf `i` is `kernel(input_i, output_i, i)` written into a fresh array. */
export function mapLeaves(
  updates: Flat,
  kernel: (input: FloatArray, output: FloatArray, index: number) => void,
): PyTree {
  const leaves = updates.leaves;
  const out = new Array<PyTree>(leaves.length);
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    const input = dataOf(leaf);
    const output = new (ctorOf(leaf))(input.length);
    kernel(input, output, i);
    out[i] = asLeafLike(leaf, output);
  }
  return unflatten(updates.def, out);
}

/** A fresh array of `like`'s element type and length. */
export function like(array: FloatArray): FloatArray {
  return new (array instanceof Float32Array ? Float32Array : Float64Array)(array.length);
}

/**
 * The shape of every stateful elementwise transformation: for each leaf, `kernel` reads the
 * update `x` and the leaf's state arrays and writes a fresh update `out` (the update's dtype)
 * and fresh state arrays `next` (each its state's dtype). Returns the new updates tree and one
 * new tree per state tree, all with the updates' structure.
 */
export function mapLeavesWithState(
  updates: Flat,
  states: readonly (readonly FloatArray[])[],
  kernel: (
    x: FloatArray,
    state: readonly FloatArray[],
    out: FloatArray,
    next: readonly FloatArray[],
    index: number,
  ) => void,
): { readonly updates: PyTree; readonly states: PyTree[] } {
  const leaves = updates.leaves;
  const outs = new Array<PyTree>(leaves.length);
  const nexts = states.map(() => new Array<PyTree>(leaves.length));
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    const x = dataOf(leaf);
    const out = new (ctorOf(leaf))(x.length);
    const current = states.map((s) => s[i]!);
    const next = current.map(like);
    kernel(x, current, out, next, i);
    outs[i] = asLeafLike(leaf, out);
    next.forEach((n, k) => (nexts[k]![i] = n));
  }
  return { updates: unflatten(updates.def, outs), states: nexts.map((n) => unflatten(updates.def, n)) };
}
