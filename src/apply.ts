/**
 * Applying updates to params.
 *
 * @module
 */
import { zipLeaves, type AsPyTree, type FloatArray, type PyTree, type PyTreeLike } from "./pytree.js";
import { claim, release } from "./donate.js";

/**
 * Adds updates to params, leaf by leaf, into new arrays of the params' dtype and kind; with
 * donated params (`applyUpdates(donate(params), updates)`), into the params' own arrays (typed
 * arrays and contiguous ndarrays; a strided ndarray leaf still gets a new array).
 *
 * The result has the params' structure, dtypes and kinds, so it is typed as the params are: a
 * `Float64Array` gives a `Float64Array`, params of your own `Params` type (an `interface` too)
 * give a `Params`.
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
export function applyUpdates<P extends PyTree | PyTreeLike<P>, U = PyTree>(
  params: P,
  updates: PyTree | AsPyTree<U>,
): P {
  const result = zipLeaves(params, updates, sum, claim("applyUpdates", params));
  // A tree that is a single leaf comes back as itself: it is the result now, not spent.
  if (result === params) release(result);
  return result as P;
}

/** `out = x + y`, a small function of its own so that V8 compiles the loop tightly. */
function sum(x: FloatArray, y: FloatArray, out: FloatArray): void {
  for (let j = 0; j < x.length; j++) out[j] = x[j]! + y[j]!;
}
