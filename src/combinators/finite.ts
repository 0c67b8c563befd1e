/**
 * Skipping steps whose gradients are not finite.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, StateOf, WithExtraArgs } from "../core/base.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { constant, gt, select } from "../kernels/expr.js";
import { buildKernel, declare, GATE } from "../kernels/kernel.js";
import { checkNumber, checkTransformation } from "../core/validate.js";

/**
 * Whether the updates are all finite, as a reduction: `x * 0` is 0 for a finite number and NaN
 * for an infinity or a NaN, so their sum is NaN exactly when some element is not finite. The
 * updates pass through untouched (no pass of its own: the sum rides on the pass before).
 */
const CHECK = buildKernel(
  declare({
    name: "applyIfFinite",
    reductions: { zeros: { over: "tree", of: ({ x }) => [x, constant(0)] } },
    scalars: (_, __, reduced) => ({ finite: Number.isNaN(reduced.zeros) ? 0 : 1 }),
    identity: () => true,
    body: ({ x }) => ({ update: x }),
  }),
);

/**
 * The updates on a step the check may skip: zeros where the executor's gate is 0 (no finite
 * updates), the updates as they are (no pass of its own) where it is 1.
 */
const SKIP = buildKernel(
  declare<never, never, typeof GATE>({
    name: "applyIfFinite",
    identity: (s) => s[GATE] === 1,
    body: ({ x }, s) => ({ update: select(gt(s[GATE], 0), x, 0) }),
  }),
);

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
 * The result needs the `extra` fields `inner` needs.
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
export function applyIfFinite<T extends GradientTransformation<unknown>>(
  inner: T,
  maxConsecutiveErrors: number,
): WithExtraArgs<ApplyIfFiniteState<StateOf<T>>, ExtraArgsNeeded<T>>;
export function applyIfFinite<S>(
  inner: GradientTransformation<S>,
  maxConsecutiveErrors: number,
): GradientTransformation<ApplyIfFiniteState<S>> {
  checkTransformation("applyIfFinite", inner);
  checkNumber("applyIfFinite", "maxConsecutiveErrors", maxConsecutiveErrors, { min: 0, integer: true });
  return new Transformation<ApplyIfFiniteState<S>>({
    kind: "applyIfFinite",
    inner: nodeOf(inner as GradientTransformation<unknown>),
    maxConsecutiveErrors,
    check: CHECK,
    skip: SKIP,
  });
}
