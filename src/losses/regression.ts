/**
 * Regression losses: squared error, the L2 loss and the Huber loss, each with its gradient
 * with respect to the predictions.
 *
 * @module
 */
import { ctorOf, type FloatArray, type Leaf } from "../core/pytree.js";
import { checkNumber, readOptions } from "../core/validate.js";
import { readLike, readPredictions, result, roundingOf, type LossAndGrad, type Round } from "./result.js";

/**
 * The errors `predictions - targets` (or `predictions` without targets) in a new array of the
 * predictions' dtype, which each loss turns into its gradient in place; and a `losses` array.
 */
function errorsOf(
  where: string,
  predictions: Leaf,
  targets: Leaf | null | undefined,
): { errors: FloatArray; losses: FloatArray; round: Round } {
  const { data: p, shape } = readPredictions(where, "predictions", predictions);
  const round = roundingOf(p);
  const Ctor = ctorOf(predictions);
  const errors = new Ctor(p);
  if (targets !== null && targets !== undefined) {
    const t = readLike(where, "targets", targets, predictions, shape);
    for (let j = 0; j < errors.length; j++) errors[j] = round(p[j]! - t[j]!);
  }
  return { errors, losses: new Ctor(p.length), round };
}

/**
 * The squared error of each element, with its gradient: optax's `squared_error`. Without
 * `targets` they are zeros. Over the `N` elements, with `e = predictions - targets`:
 *
 * ```
 * losses[j] = e_j^2
 * value     = mean_j losses[j]                 (the mean squared error)
 * grad_j    = 2 e_j / N
 * ```
 *
 * @example
 * ```ts
 * import { squaredError } from "gradtx/losses";
 * // From optax's _regression_test.py.
 * const { losses, value, grad } = squaredError(Float64Array.of(-2, -1, 0.5, 1), Float64Array.of(-1.5, 0, -1, 1));
 * // losses = [0.25, 1, 2.25, 0]; value = 0.875; grad = [-0.25, -0.5, 0.75, 0]
 * ```
 * @since 0.3.0
 */
export function squaredError<L extends Leaf>(predictions: L, targets?: Leaf | null): LossAndGrad<L> {
  const { errors: e, losses, round } = errorsOf("squaredError", predictions, targets);
  const n = e.length;
  for (let j = 0; j < n; j++) {
    losses[j] = round(e[j]! * e[j]!);
    e[j] = round(round(2 * e[j]!) / n);
  }
  return result(predictions, losses, e);
}

/**
 * Half the squared error of each element, with its gradient: optax's `l2_loss` (the 1/2 of
 * Bishop's convention). Over the `N` elements, with `e = predictions - targets`:
 *
 * ```
 * losses[j] = e_j^2 / 2
 * value     = mean_j losses[j]
 * grad_j    = e_j / N
 * ```
 *
 * @example
 * ```ts
 * import { l2Loss } from "gradtx/losses";
 * const { losses, grad } = l2Loss(Float64Array.of(-2, -1, 0.5, 1), Float64Array.of(-1.5, 0, -1, 1));
 * // losses = [0.125, 0.5, 1.125, 0]; grad = [-0.125, -0.25, 0.375, 0]
 * ```
 * @since 0.3.0
 */
export function l2Loss<L extends Leaf>(predictions: L, targets?: Leaf | null): LossAndGrad<L> {
  const { errors: e, losses, round } = errorsOf("l2Loss", predictions, targets);
  const n = e.length;
  for (let j = 0; j < n; j++) {
    losses[j] = round(0.5 * round(e[j]! * e[j]!));
    e[j] = round(e[j]! / n);
  }
  return result(predictions, losses, e);
}

/** Options of {@link huberLoss}. @since 0.3.0 */
export interface HuberLossOptions {
  /** Where the loss turns from quadratic to linear, > 0. Default 1. */
  readonly delta?: number;
}

/**
 * The Huber loss of each element, with its gradient: optax's `huber_loss`, quadratic up to
 * `|e| = delta` and linear beyond. Over the `N` elements, with `e = predictions - targets`:
 *
 * ```
 * q_j       = min(|e_j|, delta)
 * losses[j] = q_j^2 / 2 + delta * (|e_j| - q_j)
 * value     = mean_j losses[j]
 * grad_j    = clip(e_j, -delta, delta) / N
 * ```
 *
 * Gradient descent on it is gradient descent on {@link l2Loss} with the error clipped to
 * `[-delta, delta]`. `delta` must be > 0 (optax takes any number; at 0 the loss is 0).
 *
 * @example
 * ```ts
 * import { huberLoss } from "gradtx/losses";
 * // From optax's _regression_test.py, delta 1.
 * const { losses } = huberLoss(Float64Array.of(-2, 0.5, 0, 0.5, 2, 4, 132), Float64Array.of(0, -0.5, 0, 1, 1, 2, 0.3));
 * // losses ≈ [1.5, 0.5, 0, 0.125, 0.5, 1.5, 131.2]
 * ```
 * @since 0.3.0
 */
export function huberLoss<L extends Leaf>(
  predictions: L,
  targets?: Leaf | null,
  options?: HuberLossOptions | null,
): LossAndGrad<L> {
  const where = "huberLoss";
  options = readOptions(where, options, ["delta"], {
    hint: "optax's huber_loss(predictions, targets, delta) is huberLoss(predictions, targets, { delta })",
  });
  const delta = checkNumber(where, "delta", options.delta ?? 1, { min: 0, minExclusive: true });
  const { errors: e, losses, round } = errorsOf(where, predictions, targets);
  const d = round(delta);
  const n = e.length;
  for (let j = 0; j < n; j++) {
    const size = Math.abs(e[j]!);
    const q = Math.min(size, d);
    losses[j] = round(round(0.5 * round(q * q)) + round(d * round(size - q)));
    e[j] = round(Math.min(Math.max(e[j]!, -d), d) / n);
  }
  return result(predictions, losses, e);
}
