/**
 * Gradient accumulation.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, Schedule, StateOf, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { add, asUpdate, constant, div, sub, type Expr } from "../kernels/expr.js";
import { buildKernel, declare, type Inputs, type Scalars } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber, checkTransformation } from "../core/validate.js";

/** The running mean with this mini-step's updates: `acc + (u - acc) / (miniStep + 1)`. */
const mean = ({ x, accGrads }: Inputs<"accGrads">, s: Scalars<"n">): Expr => add(accGrads, div(sub(x, accGrads), s.n));
const n = (_: unknown, miniStep: number) => ({ n: miniStep + 1 });

/** A mini-step: the mean moves, the updates are zeros. */
const ACCUMULATE = buildKernel(
  declare({
    name: "multiSteps",
    slots: { accGrads: 0 },
    scalars: n,
    body: (v, s) => ({ update: constant(0), accGrads: mean(v, s) }),
  }),
);

/** The k-th mini-step: the mean goes on, in the updates' dtype, and starts again from zeros. */
const FLUSH = buildKernel(
  declare({
    name: "multiSteps",
    slots: { accGrads: 0 },
    scalars: n,
    body: (v, s) => ({ update: asUpdate(mean(v, s)), accGrads: constant(0) }),
  }),
);

/** The state of {@link multiSteps} (optax's `MultiStepsState`, camelCased). @since 0.1.0 */
export interface MultiStepsState<S> {
  /** Mini-steps accumulated since the last inner step, from 0 to `k - 1`. */
  readonly miniStep: number;
  /** Inner steps taken; a schedule `everyKSteps` is read at this count. */
  readonly gradientStep: number;
  /** The running mean of this round's updates (the params' dtype; zeros after an inner step). */
  readonly accGrads: PyTree;
  /** The inner optimizer's state. */
  readonly inner: S;
}

/**
 * Gradient accumulation, as optax's `MultiSteps` (with its default `use_grad_mean`): the updates
 * of `k` mini-steps are averaged, zero updates are returned on the first `k - 1` of them (the
 * params stand still), and on the `k`-th the inner optimizer runs once, on the mean. The inner
 * state only moves on those steps, so `k` mini-batches of size `b` train like one batch of `k b`.
 *
 * ```
 * acc' = acc + (u - acc) / (miniStep + 1)                      (the running mean)
 * miniStep + 1 < k:  u' = 0,  miniStep' = miniStep + 1
 * miniStep + 1 = k:  u', inner' = inner.update(acc', inner, params);  acc' = 0, miniStep' = 0
 * ```
 *
 * The mean is handed to `inner` in the updates' dtype and leaf kind. Its type needs the
 * `extra` fields `inner`'s type needs, at every mini-step (at run time only the steps `inner`
 * runs on read them).
 *
 * @param inner The optimizer of the accumulated steps.
 * @param everyKSteps `k`: an integer >= 1, or a schedule of `gradientStep` giving one.
 * @example
 * ```ts
 * import { multiSteps, sgd } from "gradtx";
 * // A batch of 3 x the micro-batch:
 * const opt = multiSteps(sgd(1), 3);
 * const p = Float64Array.of(0);
 * let state = opt.init(p);
 * const updates: number[] = [];
 * for (const g of [1, 2, 6]) {
 *   const [u, next] = opt.update(Float64Array.of(g), state, p);
 *   updates.push((u as Float64Array)[0]!);
 *   state = next;
 * }
 * updates; // [0, 0, -3]: the third is -(1 + 2 + 6) / 3
 * ```
 * @since 0.1.0
 */
export function multiSteps<T extends GradientTransformation<unknown>>(
  inner: T,
  everyKSteps: number | Schedule,
): WithExtraArgs<MultiStepsState<StateOf<T>>, ExtraArgsNeeded<T>>;
export function multiSteps<S>(
  inner: GradientTransformation<S>,
  everyKSteps: number | Schedule,
): GradientTransformation<MultiStepsState<S>> {
  checkTransformation("multiSteps", inner);
  const fixed =
    typeof everyKSteps === "function"
      ? 0
      : checkNumber("multiSteps", "everyKSteps", everyKSteps, { min: 1, integer: true });
  const kOf: Schedule = typeof everyKSteps === "function" ? everyKSteps : () => fixed;
  return new Transformation<MultiStepsState<S>>({
    kind: "multiSteps",
    inner: nodeOf(inner as GradientTransformation<unknown>),
    everyKSteps: (gradientStep) => {
      const k = kOf(gradientStep);
      if (!Number.isInteger(k) || k < 1)
        throw new GradTxError("INVALID_HYPERPARAMETER", `multiSteps: everyKSteps gave ${k} at step ${gradientStep}`);
      return k;
    },
    accumulate: ACCUMULATE,
    flush: FLUSH,
  });
}
