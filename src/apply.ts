/**
 * Applying updates to params.
 *
 * @module
 */
import { asLeafLike, assertSameStructure, ctorOf, dataOf, flatten, unflatten, type PyTree } from "./pytree.js";

/**
 * Adds updates to params, leaf by leaf, into new arrays of the params' dtype and kind.
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
  const p = flatten(params);
  const u = flatten(updates);
  assertSameStructure(p, u);
  return unflatten(
    p.def,
    p.leaves.map((leaf, i) => {
      const x = dataOf(leaf);
      const y = dataOf(u.leaves[i]!);
      const out = new (ctorOf(leaf))(x.length);
      for (let j = 0; j < x.length; j++) out[j] = x[j]! + y[j]!;
      return asLeafLike(leaf, out);
    }),
  );
}
