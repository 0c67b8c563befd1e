/**
 * Applying updates to params.
 *
 * @module
 */
import type { PyTree } from "./pytree.js";
import { add } from "./tree.js";

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
  // Leafwise a + b in a's dtypes and kinds is exactly this.
  return add(params, updates);
}
