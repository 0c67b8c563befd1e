/**
 * Transformations that rescale each leaf's update by a size of that leaf's params: their norm,
 * or their root mean square.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { constant, mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { checkNumber, readOptions } from "../core/validate.js";

/** Options of {@link scaleByParamBlockNorm} and {@link scaleByParamBlockRms}. @since 0.3.0 */
export interface ParamBlockOptions {
  /** The smallest factor, >= 0: a leaf whose size is at most this is scaled by it. Default 1e-3. */
  readonly minScale?: number;
}

/** optax's `safe_norm` and `safe_root_mean_squares`: the size, or `minScale` when it is no larger. */
const atLeast = (size: number, minScale: number): number => (size <= minScale ? minScale : size);

function readMinScale(where: string, options: ParamBlockOptions | null): number {
  options = readOptions(where, options, ["minScale"], {
    hint: `optax's ${where === "scaleByParamBlockNorm" ? "scale_by_param_block_norm" : "scale_by_param_block_rms"}(min_scale) is ${where}({ minScale: 1e-3 })`,
  });
  return checkNumber(where, "minScale", options.minScale ?? 1e-3, { min: 0 });
}

/**
 * Multiplies each leaf's update by the Euclidean norm of the leaf's params (a weight vector or
 * matrix is one block), as optax's `scale_by_param_block_norm`. `params` are required.
 *
 * `u' = u * max(||p||, minScale)`  (per leaf)
 *
 * @example
 * ```ts
 * import { scaleByParamBlockNorm } from "gradtx";
 * const tx = scaleByParamBlockNorm();
 * const p = { w: Float64Array.of(3, 4), b: Float64Array.of(0) };
 * const [u] = tx.update({ w: Float64Array.of(1, -1), b: Float64Array.of(2) }, tx.init(p), p);
 * // u.w = [5, -5]; u.b = [0.002]: ||w|| = 5, and b's norm 0 is raised to minScale
 * ```
 * @since 0.3.0
 */
export function scaleByParamBlockNorm(options: ParamBlockOptions | null = {}): GradientTransformation<ShapesState> {
  const minScale = readMinScale("scaleByParamBlockNorm", options);
  return elementwise<ShapesState>(
    declare({
      name: "scaleByParamBlockNorm",
      readsParams: true,
      hyper: { minScale },
      reductions: { norm: { over: "leaf", norm: "p" } },
      scalars: (h, _, r) => ({ factor: atLeast(r.norm, h.minScale) }),
      body: ({ x }, s) => ({ update: mul(x, s.factor) }),
    }),
  );
}

/**
 * Multiplies each leaf's update by the root mean square of the leaf's params, as optax's
 * `scale_by_param_block_rms`. `params` are required.
 *
 * `u' = u * max(sqrt(mean(p^2)), minScale)`  (per leaf)
 *
 * @example
 * ```ts
 * import { scaleByParamBlockRms } from "gradtx";
 * const tx = scaleByParamBlockRms();
 * const p = Float64Array.of(3, -4, 0, 0);
 * const [u] = tx.update(Float64Array.of(1, 1, 1, 1), tx.init(p), p); // u = [2.5, 2.5, 2.5, 2.5]
 * ```
 * @since 0.3.0
 */
export function scaleByParamBlockRms(options: ParamBlockOptions | null = {}): GradientTransformation<ShapesState> {
  const minScale = readMinScale("scaleByParamBlockRms", options);
  return elementwise<ShapesState>(
    declare({
      name: "scaleByParamBlockRms",
      readsParams: true,
      hyper: { minScale },
      // The norm stays finite where the sum of squares would overflow; the count of elements
      // (a sum of ones, exact below 2^53) turns it into the root mean square.
      reductions: { norm: { over: "leaf", norm: "p" }, size: { over: "leaf", of: () => [constant(1), constant(1)] } },
      scalars: (h, _, r) => ({ factor: atLeast(r.size === 0 ? NaN : r.norm / Math.sqrt(r.size), h.minScale) }),
      body: ({ x }, s) => ({ update: mul(x, s.factor) }),
    }),
  );
}
