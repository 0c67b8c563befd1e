/**
 * Gradient accumulation.
 *
 * @module
 */
import type { GradientTransformation, Schedule } from "../base.js";
import { GradTxError } from "../errors.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type FloatArray, type PyTree } from "../pytree.js";
import { increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkNumber, checkTransformation } from "../validate.js";
import { zeroUpdates } from "./parts.js";

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
 * The mean is handed to `inner` in the updates' dtype and leaf kind.
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
  return {
    init: (params) => ({
      miniStep: 0,
      gradientStep: 0,
      accGrads: zerosTree(flatten(params)),
      inner: inner.init(params),
    }),
    update(updates, state, params) {
      const where = "multiSteps";
      const s = stateRecord<MultiStepsState<S>>(where, state, ["miniStep", "gradientStep", "accGrads", "inner"]);
      const miniStep = stateCount(where, s.miniStep);
      const gradientStep = stateCount(where, s.gradientStep);
      const k = kOf(gradientStep);
      if (!Number.isInteger(k) || k < 1)
        throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: everyKSteps gave ${k} at step ${gradientStep}`);
      const g = flatten(updates);
      const acc = stateLeaves(`${where}.accGrads`, s.accGrads, g);
      const nextAcc = g.leaves.map((leaf, i) => {
        const x = dataOf(leaf);
        const a = acc[i]!;
        const n = new (a instanceof Float32Array ? Float32Array : Float64Array)(a.length);
        for (let j = 0; j < x.length; j++) n[j] = a[j]! + (x[j]! - a[j]!) / (miniStep + 1);
        return n;
      });
      if (miniStep + 1 < k) {
        const accGrads = unflatten(g.def, nextAcc);
        return [zeroUpdates(g), { miniStep: miniStep + 1, gradientStep, accGrads, inner: s.inner }];
      }
      // The mean goes in with the updates' dtype and kind, as the updates themselves would. The
      // state keeps none of these arrays, so one of the right dtype is handed over as it is.
      const meanUpdates = unflatten(
        g.def,
        g.leaves.map((leaf, i) => {
          const mean: FloatArray = nextAcc[i]!;
          const Ctor = ctorOf(leaf);
          return asLeafLike(leaf, mean instanceof Ctor ? mean : new Ctor(mean));
        }),
      );
      const [u, next] = inner.update(meanUpdates, s.inner, params);
      return [
        u,
        { miniStep: 0, gradientStep: increment(gradientStep), accGrads: zerosTree(flatten(s.accGrads)), inner: next },
      ];
    },
  };
}
