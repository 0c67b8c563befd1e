/**
 * Transformations that bound the size of updates.
 *
 * @module
 */
import { initEmpty, type EmptyState, type GradientTransformation } from "../base.js";
import { dataOf, flatten, type PyTree } from "../pytree.js";
import { applyInputScale, INPUT_SCALE, type InputScale, type InputScaling } from "../fusion.js";
import { globalNormOf } from "../tree.js";
import { checkNumber } from "../validate.js";

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
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> & InputScaling<EmptyState> {
  checkNumber("clipByGlobalNorm", "maxNorm", maxNorm, { min: 0, minExclusive: true, infinite: true });
  const scaleFor = (updates: PyTree, state: EmptyState): readonly [InputScale | null, EmptyState] => {
    const norm = globalNormOf(flatten(updates).leaves.map(dataOf));
    return [norm < maxNorm ? null : { divisor: norm, multiplier: maxNorm }, state];
  };
  return {
    init: initEmpty,
    update(updates, state) {
      const [input, next] = scaleFor(updates, state);
      return [input === null ? updates : applyInputScale(updates, input), next];
    },
    [INPUT_SCALE]: scaleFor,
  };
}
