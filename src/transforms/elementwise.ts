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
