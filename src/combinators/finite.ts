/**
 * Skipping steps whose gradients are not finite.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { flatten } from "../pytree.js";
import { stateCount, stateRecord } from "../state.js";
import { allFinite } from "../tree.js";
import { mapLeaves } from "../transforms/elementwise.js";
import { checkNumber, checkTransformation } from "../validate.js";

/** The state of {@link applyIfFinite}. @since 0.1.0 */
export interface ApplyIfFiniteState<S> {
  /** Consecutive steps with non-finite updates, up to now. */
  readonly notFiniteCount: number;
  /** Whether the last step's updates were all finite. */
  readonly lastFinite: boolean;
  /** All steps with non-finite updates, ever. */
  readonly totalNotFinite: number;
  /** The inner optimizer's state (unchanged by a skipped step). */
  readonly inner: S;
}

/**
 * Skips a step whose incoming updates hold a NaN or an infinity: it returns zero updates and
 * leaves the inner state as it was, as optax's `apply_if_finite`. After more than
 * `maxConsecutiveErrors` bad steps in a row it applies the step anyway (so a run that is
 * broken for good fails visibly instead of silently standing still).
 *
 * ```
 * finite(u) or notFiniteCount' > maxConsecutiveErrors:  u', inner' = inner.update(u, ...)
 * otherwise:                                            u' = 0,  inner' = inner
 * ```
 *
 * Around Lookahead this also keeps a NaN out of the slow weights at a sync step:
 * `applyIfFinite(lookahead(adam(1e-3)), 5)`.
 *
 * @param maxConsecutiveErrors An integer >= 0.
 * @example
 * ```ts
 * import { adam, applyIfFinite } from "gradtx";
 * const opt = applyIfFinite(adam(1e-3), 5);
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
      const notFiniteCount = finite ? 0 : stateCount(where, s.notFiniteCount) + 1;
      const totalNotFinite = stateCount(where, s.totalNotFinite) + (finite ? 0 : 1);
      const meta = { notFiniteCount, lastFinite: finite, totalNotFinite };
      if (finite || notFiniteCount > maxConsecutiveErrors) {
        const [u, next] = inner.update(updates, s.inner, params);
        return [u, { ...meta, inner: next }];
      }
      // Zeros of the updates' dtypes and kinds: fresh arrays are zero-filled.
      return [mapLeaves(flatten(updates), () => undefined), { ...meta, inner: s.inner }];
    },
  };
}
