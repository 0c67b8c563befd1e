/**
 * Per-element adaptive scaling: Lion (the Adam family lives in adam.ts, the RMS-style ones in
 * rms.ts). Learning rates are applied elsewhere (`scaleByLearningRate`), as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { flatten, type Flat, type FloatArray, type PyTree } from "../pytree.js";
import { stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkNumber } from "../validate.js";
import { mapLeavesWithState } from "./elementwise.js";

/** Reads a state's count and its named trees, aligned with the updates. */
function readState<K extends string>(
  where: string,
  state: unknown,
  updates: Flat,
  trees: readonly K[],
  counted = false,
): { count: number; leaves: FloatArray[][] } {
  const s = stateRecord<Record<string, unknown>>(where, state, counted ? [...trees, "count"] : trees);
  const count = counted ? stateCount(where, s.count) : 0;
  return { count, leaves: trees.map((key) => stateLeaves(`${where}.${key}`, s[key], updates)) };
}

/** The state of {@link scaleByLion}. @since 0.1.0 */
export interface ScaleByLionState {
  /** Moving average of the updates (decay `b2`). */
  readonly mu: PyTree;
}

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), as optax's
 * `scale_by_lion`: the sign of an interpolation between the update and its moving average.
 *
 * ```
 * u'  = sign((1 - b1) u + b1 mu)
 * mu' = (1 - b2) u + b2 mu
 * ```
 *
 * @example
 * ```ts
 * import { scaleByLion } from "gradtx";
 * const tx = scaleByLion();
 * const [u] = tx.update(Float64Array.of(-3, 0.5), tx.init(Float64Array.of(0, 0))); // [-1, 1]
 * ```
 * @since 0.1.0
 */
export function scaleByLion(
  options: { readonly b1?: number; readonly b2?: number } = {},
): GradientTransformation<ScaleByLionState> {
  const where = "scaleByLion";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, { min: 0, max: 1 });
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.99, { min: 0, max: 1 });
  return {
    init: (params) => ({ mu: zerosTree(flatten(params)) }),
    update(updates, state) {
      const g = flatten(updates);
      const { leaves } = readState(where, state, g, ["mu"]);
      const r = mapLeavesWithState(g, leaves, (x, [mu], out, [mu2]) => {
        for (let j = 0; j < x.length; j++) {
          out[j] = Math.sign((1 - b1) * x[j]! + b1 * mu![j]!);
          mu2![j] = (1 - b2) * x[j]! + b2 * mu![j]!;
        }
      });
      return [r.updates, { mu: r.states[0] }];
    },
  };
}
