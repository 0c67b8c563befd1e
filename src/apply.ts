/**
 * Applying updates to params.
 *
 * @module
 */
import { zipLeaves, type FloatArray, type PyTree } from "./pytree.js";
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
 * applyUpdates({ w: Float64Array.of(1, 2) }, { w: Float32Array.of(0.5, -1) }); // { w: Float64Array.of(1.5, 1) }
 * ```
 * @since 0.1.0
 */
export function applyUpdates(params: PyTree, updates: PyTree): PyTree {
  const result = zipLeaves(params, updates, sum, claim("applyUpdates", params));
  // A tree that is a single leaf comes back as itself: it is the result now, not spent.
  if (result === params) release(result);
  return result;
}

/** `out = x + y`, a small function of its own so that V8 compiles the loop tightly. */
function sum(x: FloatArray, y: FloatArray, out: FloatArray): void {
  for (let j = 0; j < x.length; j++) out[j] = x[j]! + y[j]!;
}
