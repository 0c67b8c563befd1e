/**
 * Applying updates to params, and the two ways optax keeps a second copy of them: a moving
 * average (`incrementalUpdate`) and a periodic copy (`periodicUpdate`).
 *
 * @module
 */
import {
  assertSameStructure,
  flatten,
  zipLeaves,
  type AsPyTree,
  type FloatArray,
  type PyTree,
  type PyTreeLike,
} from "../core/pytree.js";
import { claim, release } from "../core/donate.js";
import { addInto, applyTarget } from "../kernels/executor.js";
import { checkNumber } from "../core/validate.js";

/**
 * Adds updates to params, leaf by leaf, into new arrays of the params' dtype and kind; with
 * donated params (`applyUpdates(donate(params), updates)`), into the params' own arrays (typed
 * arrays and contiguous ndarrays; a strided ndarray leaf still gets a new array), or, where the
 * updates came from a donated step and live in its WebAssembly memory, into new arrays there
 * (once: the next donated steps then write them in place).
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
  // Leaves whose params and updates share a dtype run the executor's apply pass (the one a
  // compiled step fuses into its last pass), all in one run; others round the float64 sum once
  // into the params' dtype.
  const xs: FloatArray[] = [];
  const ys: FloatArray[] = [];
  const outs: FloatArray[] = [];
  const sum = (x: FloatArray, y: FloatArray, out: FloatArray): void => {
    if (x.constructor === y.constructor) {
      xs.push(x);
      ys.push(y);
      outs.push(out);
    } else for (let j = 0; j < x.length; j++) out[j] = x[j]! + y[j]!;
  };
  const result = zipLeaves(params, updates, sum, claim("applyUpdates", params), applyTarget);
  addInto(xs, ys, outs);
  // A tree that is a single leaf comes back as itself: it is the result now, not spent.
  if (result === params) release(result);
  return result as P;
}

/**
 * A moving average of params (Polyak averaging, for evaluation), as optax's
 * `incremental_update`: leaf by leaf, in `oldTree`'s dtypes and kinds (the average's own),
 *
 * `average' = stepSize * newTree + (1 - stepSize) * oldTree`
 *
 * A float32 leaf rounds `stepSize` and `1 - stepSize` once and every operation after.
 *
 * @param newTree The latest params.
 * @param oldTree The average so far, of `newTree`'s structure.
 * @param stepSize The weight of the latest params, in [0, 1].
 * @example
 * ```ts
 * import { incrementalUpdate } from "gradtx";
 * // From optax's update_test.py: halfway from 1 to 2.
 * incrementalUpdate({ w: Float64Array.of(2, 2) }, { w: Float64Array.of(1, 1) }, 0.5); // { w: [1.5, 1.5] }
 * ```
 * @since 0.3.0
 */
export function incrementalUpdate<P extends PyTree | PyTreeLike<P>, N = PyTree>(
  newTree: PyTree | AsPyTree<N>,
  oldTree: P,
  stepSize: number,
): P {
  const take = checkNumber("incrementalUpdate", "stepSize", stepSize, { min: 0, max: 1 });
  const keep = 1 - take;
  const take32 = Math.fround(take);
  const keep32 = Math.fround(keep);
  return zipLeaves(oldTree, newTree, (old, latest, out) => {
    if (out instanceof Float32Array)
      for (let j = 0; j < old.length; j++) out[j] = Math.fround(take32 * latest[j]!) + Math.fround(keep32 * old[j]!);
    else for (let j = 0; j < old.length; j++) out[j] = take * latest[j]! + keep * old[j]!;
  }) as P;
}

/**
 * A copy of params refreshed every `updatePeriod` steps (a target network), as optax's
 * `periodic_update`: `newTree` when `steps` is a multiple of `updatePeriod` (0 included),
 * else `oldTree`. The chosen tree itself is returned, after checking that the two have one
 * structure.
 *
 * @param newTree The latest params.
 * @param oldTree The copy so far.
 * @param steps The number of steps taken, an integer >= 0.
 * @param updatePeriod An integer >= 1.
 * @example
 * ```ts
 * import { periodicUpdate } from "gradtx";
 * const online = Float64Array.of(2);
 * const target = Float64Array.of(1);
 * periodicUpdate(online, target, 4, 5); // [1]
 * periodicUpdate(online, target, 5, 5); // [2]
 * ```
 * @since 0.3.0
 */
export function periodicUpdate<P extends PyTree | PyTreeLike<P>>(
  newTree: P,
  oldTree: P,
  steps: number,
  updatePeriod: number,
): P {
  checkNumber("periodicUpdate", "steps", steps, { min: 0, integer: true });
  checkNumber("periodicUpdate", "updatePeriod", updatePeriod, { min: 1, integer: true });
  assertSameStructure(flatten(oldTree), flatten(newTree));
  return steps % updatePeriod === 0 ? newTree : oldTree;
}
