/**
 * L-BFGS as an optimizer: `lbfgs`, optax's `lbfgs`, L-BFGS's direction and a line search.
 *
 * @module
 */
import type {
  ExtraArgsNeeded,
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  ShapesState,
  StateOf,
  WithExtraArgs,
} from "../core/base.js";
import { chain, identity } from "../combinators/chain.js";
import { scaleByLbfgs, type LbfgsOptions, type ScaleByLbfgsState } from "../transforms/lbfgs.js";
import {
  scaleByZoomLinesearch,
  type ScaleByZoomLinesearchState,
  type ZoomLinesearchNeeds,
} from "../transforms/linesearch.js";
import { scale, scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkScalarOrSchedule, checkTransformation, readOptions } from "../core/validate.js";

/** {@link lbfgs}'s default line search: a zoom line search of at most 20 steps, starting at 1. @since 0.3.0 */
export type DefaultLbfgsLinesearch = GradientTransformationExtraArgs<ScaleByZoomLinesearchState, ZoomLinesearchNeeds>;

/** The options of {@link lbfgs}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface LbfgsOptimizerOptions<
  L extends GradientTransformation<unknown> | null = DefaultLbfgsLinesearch,
> extends LbfgsOptions {
  /** A learning rate (or schedule) the direction is scaled by before the line search; omitted or null: none (`scale(-1)`). */
  readonly learningRate?: ScalarOrSchedule | null;
  /**
   * The line search, a transformation (reading `extra`) after the direction; null for none.
   * Default: `scaleByZoomLinesearch({ maxLinesearchSteps: 20, initialGuessStrategy: "one" })`.
   */
  readonly linesearch?: L;
}

/** The state of {@link lbfgs} with the line search `L` (null: none). @since 0.3.0 */
export type LbfgsState<L extends GradientTransformation<unknown> | null = DefaultLbfgsLinesearch> = [
  ScaleByLbfgsState,
  ShapesState | ScaleByScheduleState,
  L extends null ? ShapesState : StateOf<L>,
];

/**
 * L-BFGS (Nocedal and Wright, Algorithms 7.4 and 7.5; Liu and Nocedal 1989), as optax's `lbfgs`:
 * {@link scaleByLbfgs}'s direction, negated (or scaled by `-learningRate`), then a line search
 * for the step, by default {@link scaleByZoomLinesearch} of at most 20 steps starting at 1:
 * ```
 * d = P_k g          (P_k the inverse-Hessian estimate of the last memorySize steps; see scaleByLbfgs)
 * u' = -eta d        (eta from the line search: strong Wolfe by default; with learningRate, -eta lr d)
 * ```
 *
 * Made for full-batch, deterministic problems: the line search evaluates the loss along the
 * direction, so every update needs `{ value, grad, valueFn, gradFn }` in `extra` (the loss and its
 * gradient at the params, and both as functions of the params; `MISSING_EXTRA_ARG` names a
 * missing one, and the type says so). With `linesearch: null` it needs none and takes the
 * direction as it is. Where gradtx differs from optax: the line search needs `gradFn`, as gradtx
 * has no automatic differentiation to get it from `valueFn`.
 *
 * @param options optax's keyword arguments, camelCased; see {@link LbfgsOptimizerOptions}.
 * @example
 * ```ts
 * import { applyUpdates, lbfgs, tree, type PyTree } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3], as optax's docstring
 * const valueFn = (p: PyTree) => tree.vdot(p, p);
 * const gradFn = (p: PyTree) => tree.scale(2, p);
 * const solver = lbfgs();
 * let params = Float64Array.of(1, 2, 3);
 * let state = solver.init(params);
 * const values: number[] = [];
 * for (let step = 0; step < 2; step++) {
 *   const grad = tree.scale(2, params);
 *   const [updates, next] = solver.update(grad, state, params, { value: valueFn(params), grad, valueFn, gradFn });
 *   params = applyUpdates(params, updates);
 *   state = next;
 *   values.push(valueFn(params));
 * }
 * values[0].toFixed(2); // "7.52": the first step is the gradient scaled to norm 1
 * values[1] < 1e-12; // true: the second lands on the minimum
 * ```
 * @since 0.3.0
 */
export function lbfgs<const L extends GradientTransformation<unknown> | null = DefaultLbfgsLinesearch>(
  options: LbfgsOptimizerOptions<L> | null = {},
): WithExtraArgs<LbfgsState<L>, L extends null ? never : ExtraArgsNeeded<L>> {
  const o = readOptions<LbfgsOptimizerOptions<L>, readonly (keyof LbfgsOptimizerOptions<L>)[]>(
    "lbfgs",
    options,
    ["learningRate", "memorySize", "scaleInitPrecond", "linesearch"],
    { hint: "optax's lbfgs(learning_rate, memory_size) is lbfgs({ learningRate, memorySize })" },
  );
  const { learningRate, linesearch } = o;
  if (learningRate !== undefined && learningRate !== null) checkScalarOrSchedule("lbfgs", "learningRate", learningRate);
  if (linesearch !== undefined && linesearch !== null) checkTransformation("lbfgs: linesearch", linesearch);
  const direction: LbfgsOptions = {
    ...(o.memorySize === undefined ? {} : { memorySize: o.memorySize }),
    ...(o.scaleInitPrecond === undefined ? {} : { scaleInitPrecond: o.scaleInitPrecond }),
  };
  return asFactory("lbfgs", () =>
    chain(
      scaleByLbfgs(direction),
      learningRate === undefined || learningRate === null ? scale(-1) : scaleByLearningRate(learningRate),
      linesearch === null
        ? identity()
        : (linesearch ?? scaleByZoomLinesearch({ maxLinesearchSteps: 20, initialGuessStrategy: "one" })),
    ),
  ) as never;
}
