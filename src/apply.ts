/**
 * Applying updates to params.
 *
 * @module
 */
import {
  asLeafLike,
  assertSameStructure,
  dataOf,
  flatten,
  isFloatArray,
  unflatten,
  type FloatArray,
  type PyTree,
} from "./pytree.js";
import { add } from "./tree.js";
import { claim, release } from "./donate.js";

/**
 * Adds updates to params, leaf by leaf, into new arrays of the params' dtype and kind; with
 * donated params (`applyUpdates(donate(params), updates)`), into the params' own arrays (typed
 * arrays and contiguous ndarrays; a strided ndarray leaf still gets a new array).
 *
 * `params' = params + updates`
 *
 * @example
 * ```ts
 * import { applyUpdates } from "gradtx";
 * applyUpdates({ w: Float64Array.of(1, 2) }, { w: Float32Array.of(0.5, -1) }); // { w: Float64Array [1.5, 1] }
 * ```
 * @since 0.1.0
 */
export function applyUpdates(params: PyTree, updates: PyTree): PyTree {
  // Leafwise a + b in a's dtypes and kinds is exactly this.
  if (!claim("applyUpdates", params)) return add(params, updates);
  const p = flatten(params);
  const u = flatten(updates);
  assertSameStructure(p, u);
  const result = unflatten(
    p.def,
    p.leaves.map((leaf, i) => {
      const x = dataOf(leaf);
      const y = dataOf(u.leaves[i]!);
      // dataOf gathers a strided ndarray into a new array: write there, and wrap it.
      const own = isFloatArray(leaf) || x.buffer === leaf.data.buffer;
      addInPlace(x, y);
      return own ? leaf : asLeafLike(leaf, x);
    }),
  );
  // A tree that is a single leaf comes back as itself: it is the result now, not spent.
  if (result === params) release(result);
  return result;
}

/** `x += y`, a small function of its own so that V8 compiles the loop tightly. */
function addInPlace(x: FloatArray, y: FloatArray): void {
  for (let j = 0; j < x.length; j++) x[j] = x[j]! + y[j]!;
}
