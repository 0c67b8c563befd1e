/**
 * Skipping steps whose gradients are not finite.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { assertSameStructure, flatten } from "../pytree.js";
import { increment, stateCount, stateRecord } from "../state.js";
import { allFinite } from "../tree.js";
import { checkNumber, checkTransformation } from "../validate.js";
import { zeroUpdates } from "./parts.js";

/** The state of {@link applyIfFinite} (optax's `ApplyIfFiniteState`, camelCased). @since 0.1.0 */
export interface ApplyIfFiniteState<S> {
  /** Consecutive steps with non-finite updates up to now (optax's `notfinite_count`); 0 after a finite step. */
  readonly notFiniteCount: number;
  /** Whether the last step's updates were all finite (optax's `last_finite`). */
  readonly lastFinite: boolean;
  /** All steps with non-finite updates, ever (optax's `total_notfinite`). */
  readonly totalNotFinite: number;
  /** The inner optimizer's state (unchanged by a skipped step). */
  readonly inner: S;
}

/**
 * Skips a step whose incoming updates hold a NaN or an infinity: it returns zero updates (of the
 * updates' dtypes and kinds) and leaves the inner state as it was, as optax's `apply_if_finite`.
 * After more than `maxConsecutiveErrors` bad steps in a row it applies the step anyway, NaN and
 * all, as optax does: a run that is broken for good fails visibly instead of standing still.
 *
 * ```
 * notFiniteCount' = finite(u) ? 0 : notFiniteCount + 1
 * finite(u) or notFiniteCount' > maxConsecutiveErrors:  u', inner' = inner.update(u, inner, params)
 * otherwise:                                            u' = 0,  inner' = inner
 * ```
 *
 * Around Lookahead this also keeps a NaN out of the slow weights at a sync step:
 * `applyIfFinite(lookahead(adam(1e-3)), 5)`.
 *
 * @param inner The transformation to protect.
 * @param maxConsecutiveErrors How many bad steps in a row to skip, an integer >= 0 (0 skips none).
 * @example
 * ```ts
 * import { applyIfFinite, sgd } from "gradtx";
 * const opt = applyIfFinite(sgd(0.1), 5);
 * const params = Float64Array.of(1);
 * const [u, state] = opt.update(Float64Array.of(NaN), opt.init(params), params);
 * // u = [0]; state.notFiniteCount = 1; state.totalNotFinite = 1; state.lastFinite = false
 * ```
 * @since 0.1.0
 */
export function applyIfFinite<S>(
  inner: GradientTransformation<S>,
  maxConsecutiveErrors: number,
): GradientTransformation<ApplyIfFiniteState<S>> {
  checkTransformation("applyIfFinite", inner);
  checkNumber("applyIfFinite", "maxConsecutiveErrors", maxConsecutiveErrors, { min: 0, integer: true });
  return {
    init: (params) => ({ notFiniteCount: 0, lastFinite: true, totalNotFinite: 0, inner: inner.init(params) }),
    update(updates, state, params) {
      const where = "applyIfFinite";
      const s = stateRecord<ApplyIfFiniteState<S>>(where, state, [
        "notFiniteCount",
        "lastFinite",
        "totalNotFinite",
        "inner",
      ]);
      const finite = allFinite(updates);
      const notFiniteCount = finite ? 0 : increment(stateCount(where, s.notFiniteCount));
      const totalNotFinite = finite
        ? stateCount(where, s.totalNotFinite)
        : increment(stateCount(where, s.totalNotFinite));
      const meta = { notFiniteCount, lastFinite: finite, totalNotFinite };
      if (finite || notFiniteCount > maxConsecutiveErrors) {
        const [u, next] = inner.update(updates, s.inner, params);
        return [u, { ...meta, inner: next }];
      }
      // A skipped step never reaches the inner optimizer's checks: the updates must still fit the params.
      const g = flatten(updates);
      if (params !== undefined) assertSameStructure(flatten(params), g);
      return [zeroUpdates(g), { ...meta, inner: s.inner }];
    },
  };
}
