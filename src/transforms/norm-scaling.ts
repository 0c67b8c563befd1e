/**
 * Rescalings by the updates' global norm: Polyak's step size (`scaleByPolyak`, which also reads
 * the loss) and normalization to a fixed norm (`normalizeByUpdateNorm`).
 *
 * @module
 */
import type { GradientTransformation, GradientTransformationExtraArgs, ShapesState } from "../core/base.js";
import { elementwise, Transformation } from "../kernels/executor.js";
import { div, mul } from "../kernels/expr.js";
import { buildKernel, declare } from "../kernels/kernel.js";
import { checkNumber, extraValue, invalid, readOptions } from "../core/validate.js";

/** Options of {@link scaleByPolyak} (optax's names, camelCased). @since 0.3.0 */
export interface PolyakOptions {
  /** A lower bound on the loss, optax's `f_min` (`f*`); any finite number. Default 0. */
  readonly fMin?: number;
  /** The largest step size, >= 0. Default 1. */
  readonly maxLearningRate?: number;
  /** Added to the squared norm in the denominator, >= 0. Default 0. */
  readonly eps?: number;
  /** `"sps"` (Loizou et al.) or `"sps+"` (Garrigos et al.: the gap's positive part). Default `"sps"`. */
  readonly variant?: "sps" | "sps+";
}

/** The keys of {@link PolyakOptions}. */
export const POLYAK_KEYS = ["fMin", "maxLearningRate", "eps", "variant"] as const;

/**
 * Below this, the squared norm (plus `eps`) gives a step of 0: optax's `jnp.finfo(float).eps`,
 * which is float32's machine epsilon in JAX's default configuration (64-bit floats off).
 */
const TINY = 2 ** -23;

/**
 * Scales the updates by Polyak's step size (Loizou et al., 2021, "Stochastic Polyak Step-size
 * for SGD"), as optax's `scale_by_polyak`. It reads the loss at the params, `extra.value`:
 * `update(g, state, params, { value })`.
 *
 * ```
 * q    = sum over all leaves of u^2
 * gap  = value - fMin                   (variant "sps+": max(value - fMin, 0), Garrigos et al., 2023)
 * step = q + eps <= 2^-23 ? 0 : min(gap / (q + eps), maxLearningRate)
 * u'   = step * u
 * ```
 *
 * The updates are not negated: put it after `scale(-lr)` or `sgd(lr)`, as {@link polyakSgd}
 * does, or subtract what it returns. Where gradtx differs from optax: the threshold `2^-23` is
 * optax's `jnp.finfo(float).eps` under JAX's default configuration (float32); with 64-bit floats
 * enabled optax's is `2^-52`, so a float64 run whose squared norm falls between the two takes no
 * step here and a tiny one there. The sum of squares is accumulated in float64 (the numeric
 * contract's reductions), and the step is computed in float64 and rounded once to each leaf's
 * dtype. It fuses and compiles with its neighbours; its state is only the params' shapes (optax
 * keeps none). Without `extra.value` an update throws `MISSING_EXTRA_ARG`, and the type says so.
 *
 * @param options optax's keyword arguments, camelCased; see {@link PolyakOptions}.
 * @example
 * ```ts
 * import { scaleByPolyak } from "gradtx";
 * // optax's _src/transform_test.py, test_scale_by_polyak_l1_norm: f(x) = |x1| + |x2| from
 * // [1, -1] has gradient [1, -1] and value 2, so the step is 2 / 2 = 1.
 * const tx = scaleByPolyak();
 * const x = Float64Array.of(1, -1);
 * const [u] = tx.update(Float64Array.of(1, -1), tx.init(x), x, { value: 2 });
 * Array.from(u as Float64Array); // [1, -1]: x - u is the minimum, 0
 * const [v] = tx.update(Float64Array.of(1, -1), tx.init(x), x, { value: 100 });
 * Array.from(v as Float64Array); // [1, -1]: min(100 / 2, maxLearningRate = 1)
 * ```
 * @since 0.3.0
 */
export function scaleByPolyak(
  options: PolyakOptions | null = {},
): GradientTransformationExtraArgs<ShapesState, "value"> {
  const where = "scaleByPolyak";
  options = readOptions(where, options, POLYAK_KEYS, {
    hint: "optax's scale_by_polyak(f_min, max_learning_rate, eps, variant) is scaleByPolyak({ fMin: 0, maxLearningRate: 1 })",
  });
  const fMin = checkNumber(where, "fMin", options.fMin ?? 0);
  const maxLearningRate = checkNumber(where, "maxLearningRate", options.maxLearningRate ?? 1, {
    min: 0,
    infinite: true,
  });
  const eps = checkNumber(where, "eps", options.eps ?? 0, { min: 0 });
  const variant = options.variant ?? "sps";
  if (variant !== "sps" && variant !== "sps+")
    invalid(where, `variant must be "sps" or "sps+", got ${JSON.stringify(variant)}`);
  const positive = variant === "sps+";
  const kernel = buildKernel(
    declare({
      name: where,
      hyper: { gap: 0, eps, maxLearningRate },
      reductions: { squares: { over: "tree", of: (v) => [v.x, v.x] } },
      scalars: (h, _, { squares }) => {
        const denominator = squares + h.eps;
        return { step: denominator <= TINY ? 0 : Math.min(h.gap / denominator, h.maxLearningRate) };
      },
      body: ({ x }, s) => ({ update: mul(s.step, x) }),
    }),
  );
  // The loss is the step's, not the state's: the state keeps only the shapes, as optax keeps none.
  return new Transformation({
    kind: "stateScalars",
    kernel,
    initial: {},
    advance: () => ({}),
    hyper: (_, extra) => {
      const gap = extraValue(where, extra) - fMin;
      return { gap: positive ? Math.max(gap, 0) : gap, eps, maxLearningRate };
    },
  }) as GradientTransformationExtraArgs<ShapesState, "value">;
}

/** Options of {@link normalizeByUpdateNorm} (optax's names, camelCased). @since 0.3.0 */
export interface NormalizeByUpdateNormOptions {
  /** The norm of the result (up to `eps`), any finite number; negative flips the direction. Default 1. */
  readonly scaleFactor?: number;
  /** Added to the norm before dividing, >= 0. Default 1e-6. */
  readonly eps?: number;
}

/**
 * Divides the updates by their global norm, as optax's `normalize_by_update_norm`:
 *
 * ```
 * ||u|| = sqrt(sum over all leaves of u^2)
 * u'    = u / ((||u|| + eps) / scaleFactor)
 * ```
 *
 * so the result has norm `scaleFactor` (a little less: `eps` keeps a zero update finite). The
 * norm is the executor's, which stays finite where the sum of squares would overflow; the divisor
 * is computed in float64 and rounded once to each leaf's dtype. One kernel: it fuses and compiles.
 *
 * @param options optax's keyword arguments, camelCased; see {@link NormalizeByUpdateNormOptions}.
 * @example
 * ```ts
 * import { normalizeByUpdateNorm } from "gradtx";
 * const tx = normalizeByUpdateNorm({ scaleFactor: -1, eps: 0 });
 * const g = { a: Float64Array.of(3), b: Float64Array.of(4) };
 * const [u] = tx.update(g, tx.init(g));
 * // u = { a: [-0.6], b: [-0.8] }
 * ```
 * @since 0.3.0
 */
export function normalizeByUpdateNorm(
  options: NormalizeByUpdateNormOptions | null = {},
): GradientTransformation<ShapesState> {
  const where = "normalizeByUpdateNorm";
  options = readOptions(where, options, ["scaleFactor", "eps"], {
    hint: "optax's normalize_by_update_norm(scale_factor, eps) is normalizeByUpdateNorm({ scaleFactor: 1, eps: 1e-6 })",
  });
  const scaleFactor = checkNumber(where, "scaleFactor", options.scaleFactor ?? 1);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-6, { min: 0 });
  return elementwise<ShapesState>(
    declare({
      name: where,
      hyper: { scaleFactor, eps },
      reductions: { norm: { over: "tree", norm: "x" } },
      scalars: (h, _, { norm }) => ({ divisor: (norm + h.eps) / h.scaleFactor }),
      body: ({ x }, s) => ({ update: div(x, s.divisor) }),
    }),
  );
}
