/**
 * Step sizes from the distance travelled: DoG (Ivgi et al., 2023) and DoWG (Khaled et al., 2023),
 * optax.contrib's parameter-free rescalings. Each is one kernel: the distance from the initial
 * params and the gradient's norm are the step's reductions, and the running maximum and sum they
 * feed are numbers the state carries from step to step.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, max, mul, sqrt, sub } from "../kernels/expr.js";
import { declare, type Reduction } from "../kernels/kernel.js";
import { dataOf, type PyTree } from "../core/pytree.js";
import { globalNormOf } from "../core/tree.js";
import { checkNumber, invalid, readOptions } from "../core/validate.js";

/** How {@link scaleByDog} takes its first step: optax's `init_step`, a `[tag, value]` pair. @since 0.3.0 */
export type DogInitStep = readonly ["distance" | "learning_rate" | "heuristic", number];

/** The state of {@link scaleByDog}: optax's `DoGState`. @since 0.3.0 */
export interface ScaleByDogState {
  /** Steps taken (optax's `is_init_step` is `count === 0`). */
  readonly count: number;
  /** The params at init, x0. */
  readonly initParams: PyTree;
  /** The largest distance ||x - x0|| seen so far, from the initial `r_eps` (a float64 number). */
  readonly maxDist: number;
  /** The sum of the squared gradient norms so far (a float64 number). */
  readonly sumSqNormGrads: number;
}

/** Options of {@link scaleByDog} (optax's names, camelCased). @since 0.3.0 */
export interface ScaleByDogOptions {
  /**
   * How the first step is set: `["distance", r]` starts the distance at `r`; `["learning_rate",
   * lr]` takes a first step of `lr` times the gradient; `["heuristic", a]` starts the distance at
   * `a (1 + ||x0||)`. The value must be > 0.
   */
  readonly initStep: DogInitStep;
  /** Added to the sum of squared gradient norms, >= 0. Default 1e-8. */
  readonly eps?: number;
}

/** The two sums both rescalings reduce: ||x - x0||^2 and ||g||^2, over the whole tree. */
const DISTANCE_SUMS = {
  dist2: { over: "tree", of: ({ p, initParams }) => [sub(p, initParams), sub(p, initParams)] },
  g2: { over: "tree", of: ({ x }) => [x, x] },
} satisfies Record<string, Reduction<"initParams">>;

const INIT_STEPS = ["distance", "learning_rate", "heuristic"] as const;

/** optax's `init_step` pair, checked. */
function readInitStep(where: string, initStep: unknown): DogInitStep {
  if (!Array.isArray(initStep) || initStep.length !== 2 || !INIT_STEPS.includes(initStep[0] as never))
    invalid(
      where,
      `initStep must be a pair [tag, value] with tag "distance", "learning_rate" or "heuristic", got ${JSON.stringify(initStep)}`,
    );
  const value = checkNumber(where, "initStep[1]", initStep[1], { min: 0, minExclusive: true });
  return [initStep[0] as DogInitStep[0], value];
}

/**
 * Scales updates by DoG's step size (Ivgi et al., 2023, "DoG is SGD's Best Friend: A
 * Parameter-Free Dynamic Step Size Schedule"), as optax.contrib's `scale_by_dog`:
 *
 * ```
 * r   = max(r, ||x - x0||)                     (r starts at r_eps; x0: the params at init)
 * G   = G + ||g||^2                            (G starts at 0)
 * eta = r / sqrt(G + eps),   u' = eta g        (eta = lr on the first step with "learning_rate")
 * ```
 *
 * `r_eps` is the value for `"distance"`, `value (1 + ||x0||)` for `"heuristic"` (so `init` needs
 * the real params, not placeholders), and 0 for `"learning_rate"`. Norms are over the whole tree.
 *
 * The updates keep their sign: put a negative learning rate after it (as {@link dog} does). One
 * kernel: the norms are its reductions, `r` and `G` are float64 numbers carried in the state
 * (optax keeps them in the params' lowest dtype), and `eta` is rounded once to each leaf's dtype.
 *
 * @example
 * ```ts
 * import { scaleByDog } from "gradtx";
 * const tx = scaleByDog({ initStep: ["distance", 0.5] });
 * const x = Float64Array.of(3, 4);
 * const [u, state] = tx.update(Float64Array.of(0.6, 0.8), tx.init(x), x);
 * // The params have not moved: r is 0.5 and G is ||g||^2, 1, so the step size is 0.5 / sqrt(1 + 1e-8).
 * // u ≈ [0.3, 0.4]; state.maxDist = 0.5; state.sumSqNormGrads = 1
 * ```
 * @since 0.3.0
 */
export function scaleByDog(options: ScaleByDogOptions): GradientTransformation<ScaleByDogState> {
  const where = "scaleByDog";
  options = readOptions(where, options, ["initStep", "eps"], {
    hint: 'optax\'s scale_by_dog(init_step, eps) is scaleByDog({ initStep: ["heuristic", 1e-6], eps: 1e-8 })',
  });
  const [tag, value] = readInitStep(where, options.initStep);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const first = tag === "learning_rate" ? value : NaN;
  return elementwise<ScaleByDogState>(
    declare({
      name: where,
      slots: { initParams: "params" },
      counted: true,
      readsParams: true,
      hyper: { eps },
      carry: {
        maxDist:
          tag === "distance"
            ? value
            : tag === "heuristic"
              ? (params) => value * (1 + globalNormOf(params.leaves.map(dataOf)))
              : 0,
        sumSqNormGrads: 0,
      },
      reductions: DISTANCE_SUMS,
      scalars: (h, count, r, carried) => {
        const maxDist = Math.max(carried.maxDist!, Math.sqrt(r.dist2));
        const sumSqNormGrads = carried.sumSqNormGrads! + r.g2;
        const eta = count === 0 && tag === "learning_rate" ? first : maxDist / Math.sqrt(sumSqNormGrads + h.eps);
        return { maxDist, sumSqNormGrads, eta };
      },
      body: ({ x, initParams }, s) => ({ update: mul(s.eta, x), initParams }),
    }),
  );
}

/** The state of {@link scaleByDowg}: optax's `DoWGState`. @since 0.3.0 */
export interface ScaleByDowgState {
  /** The params at init, x0. */
  readonly initParams: PyTree;
  /** The sum of the squared gradient norms, each weighted by the squared distance of its step (a float64 number). */
  readonly weightedSqNormGrads: number;
  /** The largest squared distance ||x - x0||^2 seen so far (a float64 number). */
  readonly estimSqDist: number;
}

/** Options of {@link scaleByDowg} (optax's names, camelCased). @since 0.3.0 */
export interface ScaleByDowgOptions {
  /** The initial guess of the squared distance to the solution, > 0. Default: `eps`. */
  readonly initEstimSqDist?: number | null;
  /** Added to the root in the step size's denominator, > 0. Default 1e-4. */
  readonly eps?: number;
}

/**
 * Scales updates by DoWG's step size (Khaled et al., 2023, "DoWG Unleashed: An Efficient
 * Universal Parameter-Free Gradient Descent Method"), as optax.contrib's `scale_by_dowg`:
 *
 * ```
 * d2  = max(d2, ||x - x0||^2)                   (d2 starts at initEstimSqDist, default eps)
 * W   = W + d2 ||g||^2                          (W starts at 0)
 * eta = d2 / (sqrt(W) + eps),   u' = eta g
 * ```
 *
 * As optax's, the step size is `d2 / sqrt(W)` (the paper's DoWG has the same ratio, written
 * with `r^2` and `v`). One kernel, like {@link scaleByDog}: `d2` and `W` are float64 numbers of
 * the state, and the updates keep their sign.
 *
 * @example
 * ```ts
 * import { scaleByDowg } from "gradtx";
 * const tx = scaleByDowg({ initEstimSqDist: 0.25 });
 * const x = Float64Array.of(0, 0);
 * const [u, state] = tx.update(Float64Array.of(3, 4), tx.init(x), x);
 * // d2 is 0.25 and W is 0.25 * 25, so the step size is 0.25 / (2.5 + 1e-4).
 * // u ≈ [0.75 / 2.5001, 1 / 2.5001]; state.weightedSqNormGrads = 6.25
 * ```
 * @since 0.3.0
 */
export function scaleByDowg(options: ScaleByDowgOptions | null = {}): GradientTransformation<ScaleByDowgState> {
  const where = "scaleByDowg";
  options = readOptions(where, options, ["initEstimSqDist", "eps"], {
    hint: "optax's scale_by_dowg(init_estim_sq_dist, eps) is scaleByDowg({ initEstimSqDist: 1e-4, eps: 1e-4 })",
  });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-4, { min: 0, minExclusive: true });
  const initial = options.initEstimSqDist ?? null;
  const estimSqDist =
    initial === null ? eps : checkNumber(where, "initEstimSqDist", initial, { min: 0, minExclusive: true });
  return elementwise<ScaleByDowgState>(
    declare({
      name: where,
      slots: { initParams: "params" },
      readsParams: true,
      hyper: { eps },
      carry: { estimSqDist, weightedSqNormGrads: 0 },
      reductions: DISTANCE_SUMS,
      scalars: (h, _, r, carried) => {
        const estimSqDist = Math.max(carried.estimSqDist!, r.dist2);
        const weightedSqNormGrads = estimSqDist * r.g2 + carried.weightedSqNormGrads!;
        return { estimSqDist, weightedSqNormGrads, eta: estimSqDist / (Math.sqrt(weightedSqNormGrads) + h.eps) };
      },
      body: ({ x, initParams }, s) => ({ update: mul(s.eta, x), initParams }),
    }),
  );
}

/** The state of {@link scaleByDistanceOverGradients}: optax's `ScaleByDistanceOverGradientsState`. @since 0.3.0 */
export interface ScaleByDistanceOverGradientsState {
  /** Each leaf's largest distance ||x - x0|| so far, repeated over the leaf's elements (params' dtype). */
  readonly maxDist: PyTree;
  /** Each leaf's sum of squared gradient norms so far, repeated over its elements (params' dtype). */
  readonly gradSumOfSquares: PyTree;
  /** The params at init, x0, in their own dtype. */
  readonly initParams: PyTree;
}

/** Options of {@link scaleByDistanceOverGradients} (optax's names, camelCased). @since 0.3.0 */
export interface DistanceOverGradientsOptions {
  /** Sets each leaf's initial distance, `repsRel (1 + ||x0||)`, > 0. Default 1e-6 (the authors suggest 1e-4 with batch norm). */
  readonly repsRel?: number;
  /** Added to the sum of squares under the root, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Multiplies every update, typically 1 or -1. Default 1. */
  readonly globalScale?: number;
}

/**
 * Layer-wise DoG (Ivgi et al., 2023, "DoG is SGD's Best Friend"), optax's
 * `scale_by_distance_over_gradients`: {@link scaleByDog}'s step size, with each leaf its own
 * distance and gradient sum. For each leaf, with x0 its params at init:
 *
 * ```
 * r   = max(r, ||x - x0||)            (r starts at repsRel (1 + ||x0||), norms over the leaf)
 * G   = G + ||g||^2                   (G starts at 0)
 * u'  = globalScale r / sqrt(G + eps) g
 * ```
 *
 * One kernel: the leaf's norms are its reductions. Where gradtx differs from optax: `r` and `G`
 * are kept per element in the leaf's dtype, repeated over the leaf (optax keeps one scalar per
 * leaf), as {@link scaleByNovograd} keeps its per-leaf moment, so that the state has the params'
 * shapes; and `x0` stays in the params' dtype (optax's `param_dtype`, float32 by default, is not
 * offered). The initial distance comes from x0 at the first update, which is the same number
 * optax computes at init (x0 does not move), and the state keeps no count.
 *
 * @example
 * ```ts
 * import { scaleByDistanceOverGradients } from "gradtx";
 * const tx = scaleByDistanceOverGradients({ repsRel: 0.5, eps: 0 });
 * const x = { a: Float64Array.of(3, 4), b: Float64Array.of(0) };
 * const [u] = tx.update({ a: Float64Array.of(6, 8), b: Float64Array.of(2) }, tx.init(x), x);
 * // Leaf a: r = 0.5 (1 + 5) = 3, G = 100, so the step size is 3 / 10; leaf b: r = 0.5, G = 4.
 * // u.a ≈ [1.8, 2.4]; u.b ≈ [0.5]
 * ```
 * @since 0.3.0
 */
export function scaleByDistanceOverGradients(
  options: DistanceOverGradientsOptions | null = {},
): GradientTransformation<ScaleByDistanceOverGradientsState> {
  const where = "scaleByDistanceOverGradients";
  options = readOptions(where, options, ["repsRel", "eps", "globalScale"], {
    hint: "optax's scale_by_distance_over_gradients(reps_rel, eps, param_dtype, global_scale) is scaleByDistanceOverGradients({ repsRel: 1e-6, eps: 1e-8, globalScale: 1 })",
  });
  const repsRel = checkNumber(where, "repsRel", options.repsRel ?? 1e-6, { min: 0, minExclusive: true });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const globalScale = checkNumber(where, "globalScale", options.globalScale ?? 1, {});
  return elementwise<ScaleByDistanceOverGradientsState>(
    declare({
      name: where,
      slots: { maxDist: 0, gradSumOfSquares: 0, initParams: "params" },
      readsParams: true,
      hyper: { repsRel, eps, globalScale },
      reductions: {
        dist2: { over: "leaf", of: ({ p, initParams }) => [sub(p, initParams), sub(p, initParams)] },
        init2: { over: "leaf", of: ({ initParams }) => [initParams, initParams] },
        g2: { over: "leaf", of: ({ x }) => [x, x] },
      },
      // The distance never falls below its start, so max(r, start) is the start on the first
      // step and r after it.
      scalars: (h, _, r) => ({
        start: h.repsRel * (1 + Math.sqrt(r.init2)),
        dist: Math.sqrt(r.dist2),
        g2: r.g2,
      }),
      body: ({ x, maxDist, gradSumOfSquares, initParams }, s) => {
        const r = max(max(maxDist, s.start), s.dist);
        const sum = add(gradSumOfSquares, s.g2);
        return {
          update: mul(div(mul(s.globalScale, r), sqrt(add(sum, s.eps))), x),
          maxDist: r,
          gradSumOfSquares: sum,
          initParams,
        };
      },
    }),
  );
}
