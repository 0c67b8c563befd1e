/**
 * Transformations that bound the size of updates.
 *
 * @module
 */
import type { ShapesState, GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { clamp, constant, div, mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { checkNumber } from "../core/validate.js";

/**
 * Rescales all updates together so that their global norm is at most `maxNorm`, with optax's
 * formula: unchanged (the very same tree) when the norm is below `maxNorm`, else
 *
 * `u' = (u / ||u||) * maxNorm`,  `||u|| = sqrt(sum over all leaves of u^2)`
 *
 * The norm is summed with compensation across leaves. PyTorch's `clip_grad_norm_` differs: it
 * always multiplies by `min(1, maxNorm / (norm + 1e-6))`.
 *
 * @param maxNorm The largest norm let through, > 0 (`Infinity` disables clipping of finite
 *   updates; an infinite element makes the norm infinite too, and then `u / norm * maxNorm` is
 *   NaN, as in optax).
 * @example
 * ```ts
 * import { clipByGlobalNorm } from "gradtx";
 * const tx = clipByGlobalNorm(1);
 * const g = { a: Float64Array.of(3), b: Float64Array.of(4) };
 * const [u] = tx.update(g, tx.init(g));
 * // u = { a: [0.6], b: [0.8] }
 * ```
 * @since 0.1.0
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<ShapesState> {
  checkNumber("clipByGlobalNorm", "maxNorm", maxNorm, { min: 0, minExclusive: true, infinite: true });
  return elementwise<ShapesState>(
    declare({
      name: "clipByGlobalNorm",
      hyper: { maxNorm },
      reductions: { norm: { over: "tree", norm: "x" } },
      // Below the threshold the update passes as it is, the very same leaves.
      // optax's (u / norm) * maxNorm, exactly: a clip of (3, 4) to norm 1 is (0.6, 0.8).
      scalars: (h, _, { norm }) =>
        norm < h.maxNorm ? { divisor: 1, multiplier: 1, clips: 0 } : { divisor: norm, multiplier: h.maxNorm, clips: 1 },
      identity: (s) => s.clips === 0,
      body: ({ x }, s) => ({ update: mul(div(x, s.divisor), s.multiplier) }),
    }),
  );
}

/**
 * Clips every element to `[-maxDelta, maxDelta]`, as optax's `clip`.
 *
 * `u' = min(max(u, -maxDelta), maxDelta)`
 *
 * @param maxDelta >= 0.
 * @example
 * ```ts
 * import { clip } from "gradtx";
 * const tx = clip(1);
 * const g = Float64Array.of(-3, 0.5, 2);
 * tx.update(g, tx.init(g))[0]; // [-1, 0.5, 1]
 * ```
 * @since 0.1.0
 */
export function clip(maxDelta: number): GradientTransformation<ShapesState> {
  checkNumber("clip", "maxDelta", maxDelta, { min: 0, infinite: true });
  return elementwise<ShapesState>(
    declare({
      name: "clip",
      hyper: { maxDelta },
      scalars: (h) => ({ lo: -h.maxDelta }),
      body: ({ x }, s) => ({ update: clamp(x, s.lo, s.maxDelta) }),
    }),
  );
}

/**
 * Rescales each leaf so that its root mean square is at most `threshold`, as optax's
 * `clip_by_block_rms`.
 *
 * `u' = u / max(1, rms(u) / threshold)`,  `rms(u) = sqrt(mean(u^2))` per leaf
 *
 * A leaf within the threshold is divided by 1, so it comes back as it is, the very same array.
 *
 * @param threshold > 0.
 * @example
 * ```ts
 * import { clipByBlockRms } from "gradtx";
 * const tx = clipByBlockRms(1);
 * const g = Float64Array.of(3, 3);
 * tx.update(g, tx.init(g))[0]; // ≈ [1, 1]: the rms is 3
 * ```
 * @since 0.1.0
 */
export function clipByBlockRms(threshold: number): GradientTransformation<ShapesState> {
  checkNumber("clipByBlockRms", "threshold", threshold, { min: 0, minExclusive: true, infinite: true });
  return elementwise<ShapesState>(
    declare({
      name: "clipByBlockRms",
      hyper: { threshold },
      // Per leaf: its norm, and its number of elements (the sum of 1 * 1 over them, exact).
      reductions: { norm: { over: "leaf", norm: "x" }, size: { over: "leaf", of: () => [constant(1), constant(1)] } },
      scalars: (h, _, { norm, size }) => {
        const rms = size === 0 ? 0 : norm / Math.sqrt(size);
        return { denominator: Math.max(1, rms / h.threshold) };
      },
      // A leaf within the threshold is divided by 1: it passes as it is, the very same leaf.
      identity: (s) => s.denominator === 1,
      body: ({ x }, s) => ({ update: div(x, s.denominator) }),
    }),
  );
}
