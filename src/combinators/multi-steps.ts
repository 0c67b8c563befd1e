/**
 * Gradient accumulation.
 *
 * @module
 */
import type { GradientTransformation, Schedule } from "../base.js";
import { GradTxError } from "../errors.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type PyTree } from "../pytree.js";
import { increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { mapLeaves } from "../transforms/elementwise.js";
import { checkNumber, checkTransformation } from "../validate.js";

/** The state of {@link multiSteps}. @since 0.1.0 */
export interface MultiStepsState<S> {
  /** Mini-steps accumulated since the last real step. */
  readonly miniStep: number;
  /** Real (inner) steps taken. */
  readonly gradientStep: number;
  /** The running mean of the updates of this round (the params' dtype). */
  readonly accGrads: PyTree;
  /** The inner optimizer's state. */
  readonly inner: S;
}

/**
 * Gradient accumulation, as optax's `MultiSteps`: the updates of `everyKSteps` mini-steps are
 * averaged, zero updates are returned on the first `k - 1` of them, and on the `k`-th the inner
 * optimizer runs once on the mean.
 *
 * ```
 * acc' = acc + (u - acc) / (miniStep + 1)                      (the running mean)
 * miniStep + 1 < k:  u' = 0
 * miniStep + 1 = k:  u', inner' = inner.update(acc', inner, params);  acc' = 0
 * ```
 *
 * @param everyKSteps An integer >= 1, or a schedule of the inner step count giving one.
 * @example
 * ```ts
 * import { adam, multiSteps } from "gradtx";
 * const opt = multiSteps(adam(1e-3), 4); // a batch of 4 x the micro-batch
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
        const zeros = mapLeaves(g, () => undefined);
        return [zeros, { miniStep: miniStep + 1, gradientStep, accGrads: unflatten(g.def, nextAcc), inner: s.inner }];
      }
      // The mean goes in with the updates' dtype and kind, as the updates themselves would.
      const meanUpdates = unflatten(
        g.def,
        g.leaves.map((leaf, i) => asLeafLike(leaf, new (ctorOf(leaf))(nextAcc[i]!))),
      );
      const [u, next] = inner.update(meanUpdates, s.inner, params);
      return [
        u,
        { miniStep: 0, gradientStep: increment(gradientStep), accGrads: zerosTree(flatten(s.accGrads)), inner: next },
      ];
    },
  };
}
