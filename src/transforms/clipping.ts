/**
 * Transformations that bound the size of updates.
 *
 * @module
 */
import { initEmpty, type EmptyState, type GradientTransformation } from "../base.js";
import { dataOf, flatten } from "../pytree.js";
import { globalNormOf } from "../tree.js";
import { checkNumber } from "../validate.js";
import { mapLeaves } from "./elementwise.js";

/**
 * Rescales all updates together so that their global norm is at most `maxNorm`, with optax's
 * formula: unchanged (the very same tree) when the norm is below `maxNorm`, else
 *
 * `u' = (u / ||u||) * maxNorm`,  `||u|| = sqrt(sum over all leaves of u^2)`
 *
 * The norm is summed with compensation across leaves. PyTorch's `clip_grad_norm_` differs: it
 * always multiplies by `min(1, maxNorm / (norm + 1e-6))`.
 *
 * @param maxNorm The largest norm let through, > 0 (`Infinity` disables clipping).
 * @example
 * ```ts
 * import { clipByGlobalNorm } from "gradtx";
 * const tx = clipByGlobalNorm(1);
 * const [u] = tx.update({ a: Float64Array.of(3), b: Float64Array.of(4) }, tx.init(null));
 * // u = { a: [0.6], b: [0.8] }
 * ```
 * @since 0.1.0
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  checkNumber("clipByGlobalNorm", "maxNorm", maxNorm, { min: 0, minExclusive: true, infinite: true });
  return {
    init: initEmpty,
    update(updates, state) {
      const g = flatten(updates);
      const norm = globalNormOf(g.leaves.map(dataOf));
      if (norm < maxNorm) return [updates, state];
      const out = mapLeaves(g, (x, o) => {
        for (let j = 0; j < x.length; j++) o[j] = (x[j]! / norm) * maxNorm;
      });
      return [out, state];
    },
  };
}
