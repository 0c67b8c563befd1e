/**
 * Transformations that deal with NaNs in the updates.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { GradTxError } from "../errors.js";
import { flatten, mapLeaves } from "../pytree.js";
import { stateRecord } from "../state.js";

/** The state of {@link zeroNans}. @since 0.1.0 */
export interface ZeroNansState {
  /** Per leaf, in canonical (sorted-key) order: whether the last update held a NaN there. */
  readonly foundNan: readonly boolean[];
}

/**
 * Replaces NaNs in the updates by 0 and records, per leaf, whether it found any, as optax's
 * `zero_nans`. Infinities pass through. The flags are a plain boolean array in leaf order
 * (booleans are not pytree leaves).
 *
 * `u' = isNaN(u) ? 0 : u`
 *
 * @example
 * ```ts
 * import { zeroNans } from "gradtx";
 * const tx = zeroNans();
 * const [u, s] = tx.update({ a: Float64Array.of(NaN, 1) }, tx.init({ a: new Float64Array(2) }));
 * // u = { a: [0, 1] }; s.foundNan = [true]
 * ```
 * @since 0.1.0
 */
export function zeroNans(): GradientTransformation<ZeroNansState> {
  return {
    init: (params) => ({ foundNan: flatten(params).leaves.map(() => false) }),
    update(updates, state) {
      const { foundNan } = stateRecord<ZeroNansState>("zeroNans", state, ["foundNan"]);
      const g = flatten(updates);
      if (!Array.isArray(foundNan) || foundNan.length !== g.leaves.length)
        throw new GradTxError(
          "BAD_STATE",
          `zeroNans: the state has flags for ${String(foundNan?.length)} leaves, the updates ${g.leaves.length}`,
        );
      const found = g.leaves.map(() => false);
      const out = mapLeaves(updates, (x, o, i) => {
        let any = false;
        for (let j = 0; j < x.length; j++) {
          const v = x[j]!;
          const nan = v !== v;
          any ||= nan;
          o[j] = nan ? 0 : v;
        }
        found[i] = any;
      });
      return [out, { foundNan: found }];
    },
  };
}
