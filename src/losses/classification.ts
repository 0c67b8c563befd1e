/**
 * Classification losses: softmax and sigmoid cross entropy, each with its gradient with
 * respect to the logits.
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import { ctorOf, type FloatArray, type Leaf } from "../core/pytree.js";
import { readLike, readPredictions, result, roundingOf, type LossAndGrad, type Round } from "./result.js";

/** The class count (the last dimension) and the example count (the product of the others). */
function rowsOf(where: string, shape: readonly number[]): { batch: number; classes: number } {
  const classes = shape[shape.length - 1]!;
  if (classes === 0) throw new GradTxError("SHAPE_MISMATCH", `${where}: logits have no classes`, "logits");
  let batch = 1;
  for (let d = 0; d < shape.length - 1; d++) batch *= shape[d]!;
  return { batch, classes };
}

/** One row's log-sum-exp, as `max + log1p(rest)`. */
interface RowSums {
  /** The row's largest logit, the shift. */
  readonly max: number;
  /** Where it is (the first, if several). */
  readonly argmax: number;
  /** `sum over k != argmax of exp(x_k - max)`, in [0, classes - 1]. */
  readonly rest: number;
  /** `log1p(rest)`: the log-sum-exp is `max + log1p(rest)`. */
  readonly log1pRest: number;
  /** `1 + rest`, the softmax's denominator. */
  readonly sum: number;
}

/**
 * One row's log-sum-exp, shifted by the row's largest logit so that no exponential overflows,
 * and written as `max + log1p(rest)`, so that a confident row (the loss near 0) keeps its
 * digits: `log(1 + 1e-9)` rounded from `1 + 1e-9` would lose half of them. Leaves
 * `exp(x_j - max)` in `out`, the row's `[start, start + classes)`.
 */
function rowSums(x: FloatArray, start: number, classes: number, out: FloatArray, round: Round): RowSums {
  let argmax = start;
  for (let j = start + 1; j < start + classes; j++) if (x[j]! > x[argmax]!) argmax = j;
  const max = x[argmax]!;
  let rest = 0;
  for (let j = start; j < start + classes; j++) {
    out[j] = round(Math.exp(round(x[j]! - max)));
    if (j !== argmax) rest += out[j]!;
  }
  return { max, argmax, rest: round(rest), log1pRest: round(Math.log1p(rest)), sum: round(1 + rest) };
}

/**
 * Softmax cross entropy between logits and label distributions, with its gradient: optax's
 * `softmax_cross_entropy`.
 *
 * The classes are the last dimension of `logits` (an ndarray `[batch, classes]`, or of more
 * batch dimensions); a flat typed array is one example. `labels` has the logits' shape: one-hot
 * rows or probability distributions. For each example `i`, with `lse_i = log sum_k exp(x_ik)`:
 *
 * ```
 * losses[i] = -sum_j y_ij * (x_ij - lse_i)
 * value     = mean_i losses[i]                                  (B examples)
 * grad_ij   = (softmax(x_i)_j * sum_k y_ik - y_ij) / B          (d value / d x_ij)
 * ```
 *
 * The log-sum-exp is shifted by the row's largest logit `m`, as `m + log1p(sum over the other
 * k of exp(x_k - m))`, so that logits of ±1e4 (or any finite size) give finite losses and
 * gradients, and a confident row keeps the digits of its small loss. A row of only `-Infinity`
 * gives NaN, as in optax. A term with `y_ij = 0` is 0, also where `x_ij` is
 * `-Infinity` (optax's `safe_softmax_cross_entropy` convention `0 log 0 = 0`; its plain version
 * gives NaN there). Labels are not normalised, as in optax: the gradient carries `sum_k y_ik`.
 *
 * Arithmetic is in the logits' dtype: each operation on a float32 element rounds to float32;
 * the row sums are float64 sums of those elements, rounded once, as the executor's reductions.
 *
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { softmaxCrossEntropy } from "gradtx/losses";
 * // optax's docstring example: batch 2, classes 3.
 * const logits = ndarray(Float64Array.of(1.2, -0.8, -0.5, 0.9, -1.2, 1.1), [2, 3]);
 * const labels = ndarray(Float64Array.of(1, 0, 0, 0, 1, 0), [2, 3]);
 * const { losses, value, grad } = softmaxCrossEntropy(logits, labels);
 * // losses ≈ [0.2761, 2.9518] (±1e-4); value ≈ (0.2761 + 2.9518) / 2 (±1e-4)
 * grad.shape; // [2, 3]
 * ```
 * @since 0.3.0
 */
export function softmaxCrossEntropy<L extends Leaf>(logits: L, labels: Leaf): LossAndGrad<L> {
  const where = "softmaxCrossEntropy";
  const { data: x, shape } = readPredictions(where, "logits", logits);
  const y = readLike(where, "labels", labels, logits, shape);
  const { batch, classes } = rowsOf(where, shape);
  const round = roundingOf(x);
  const Ctor = ctorOf(logits);
  const losses = new Ctor(batch);
  const grad = new Ctor(x.length);
  for (let i = 0, start = 0; i < batch; i++, start += classes) {
    const { max, log1pRest, sum } = rowSums(x, start, classes, grad, round);
    let loss = 0;
    let labelSum = 0;
    for (let j = start; j < start + classes; j++) {
      const label = y[j]!;
      // -log softmax(x)_j = (max - x_j) + log1p(rest), both terms >= 0: no cancellation.
      if (label !== 0) loss += label * round(round(max - x[j]!) + log1pRest);
      labelSum += label;
    }
    losses[i] = round(loss);
    const total = round(labelSum);
    for (let j = start; j < start + classes; j++) {
      const p = round(grad[j]! / sum);
      grad[j] = round(round(round(total * p) - y[j]!) / batch);
    }
  }
  return result(logits, losses, grad);
}

/** The labels as class indices, one per example: integers in `[0, classes)`. */
function readClassIndices(where: string, labels: unknown, batch: number, classes: number): ArrayLike<number> {
  const ok =
    Array.isArray(labels) ||
    (ArrayBuffer.isView(labels) &&
      !(labels instanceof DataView) &&
      !(labels instanceof BigInt64Array) &&
      !(labels instanceof BigUint64Array));
  if (!ok)
    throw new GradTxError(
      "NOT_A_PYTREE",
      `${where}: labels must be an array of class indices (an Int32Array or a number[])`,
      "labels",
    );
  const indices = labels as ArrayLike<unknown>;
  if (indices.length !== batch)
    throw new GradTxError(
      "SHAPE_MISMATCH",
      `${where}: labels must have one class index per example (${batch}), got ${indices.length}`,
      "labels",
    );
  for (let i = 0; i < batch; i++) {
    const label = indices[i];
    if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= classes)
      throw new GradTxError(
        "SHAPE_MISMATCH",
        `${where}: a label must be a class index, an integer in [0, ${classes}), got ${String(label)}`,
        `labels[${i}]`,
      );
  }
  return indices as ArrayLike<number>;
}

/**
 * Softmax cross entropy between logits and integer class labels, with its gradient: optax's
 * `softmax_cross_entropy_with_integer_labels`, the same as {@link softmaxCrossEntropy} with
 * one-hot labels.
 *
 * `logits` as in {@link softmaxCrossEntropy}; `labels` holds one class index per example (an
 * `Int32Array`, a `number[]`), in the batch's row-major order. For each example `i` of class
 * `c_i`:
 *
 * ```
 * losses[i] = lse_i - x_{i c_i},      lse_i = log sum_k exp(x_ik)
 * value     = mean_i losses[i]                                    (B examples)
 * grad_ij   = (softmax(x_i)_j - [j = c_i]) / B
 * ```
 *
 * A label that is not an integer in `[0, classes)` throws `SHAPE_MISMATCH` naming it (optax
 * indexes out of range silently).
 *
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { softmaxCrossEntropyWithIntegerLabels } from "gradtx/losses";
 * const logits = ndarray(Float32Array.of(1.2, -0.8, -0.5, 0.9, -1.2, 1.1), [2, 3]);
 * const { losses, grad } = softmaxCrossEntropyWithIntegerLabels(logits, [0, 1]);
 * // losses ≈ [0.2761, 2.9518] (±1e-4)
 * grad.data instanceof Float32Array; // true
 * ```
 * @since 0.3.0
 */
export function softmaxCrossEntropyWithIntegerLabels<L extends Leaf>(
  logits: L,
  labels: ArrayLike<number>,
): LossAndGrad<L> {
  const where = "softmaxCrossEntropyWithIntegerLabels";
  const { data: x, shape } = readPredictions(where, "logits", logits);
  const { batch, classes } = rowsOf(where, shape);
  const indices = readClassIndices(where, labels, batch, classes);
  const round = roundingOf(x);
  const Ctor = ctorOf(logits);
  const losses = new Ctor(batch);
  const grad = new Ctor(x.length);
  for (let i = 0, start = 0; i < batch; i++, start += classes) {
    const { max, argmax, rest, log1pRest, sum } = rowSums(x, start, classes, grad, round);
    const label = start + indices[i]!;
    losses[i] = round(round(max - x[label]!) + log1pRest);
    for (let j = start; j < start + classes; j++) {
      const p = round(grad[j]! / sum);
      // For the largest logit's class, p - 1 = -rest / sum without the cancellation of p - 1.
      const slope = j !== label ? p : j === argmax ? 0 - round(rest / sum) : round(p - 1);
      grad[j] = round(slope / batch);
    }
  }
  return result(logits, losses, grad);
}

/** `log(1 + exp(z))` without overflow: `max(z, 0) + log1p(exp(-|z|))`. */
function softplus(z: number, round: Round): number {
  return round(Math.max(z, 0) + round(Math.log1p(round(Math.exp(-Math.abs(z))))));
}

/** `1 / (1 + exp(-z))`, from the side on which the exponential cannot overflow. */
function sigmoid(z: number, round: Round): number {
  if (z >= 0) return round(1 / round(1 + round(Math.exp(-z))));
  const e = round(Math.exp(z));
  return round(e / round(1 + e));
}

/**
 * Sigmoid (binary) cross entropy of each element, with its gradient: optax's
 * `sigmoid_binary_cross_entropy`. Each element of `logits` is an independent binary prediction;
 * `labels`, of the logits' shape, holds 0/1 labels or probabilities in [0, 1]. Over the `N`
 * elements:
 *
 * ```
 * losses[j] = y_j * softplus(-x_j) + (1 - y_j) * softplus(x_j)
 *           = -y_j log sigmoid(x_j) - (1 - y_j) log(1 - sigmoid(x_j))
 * value     = mean_j losses[j]
 * grad_j    = (sigmoid(x_j) - y_j) / N
 * ```
 *
 * `softplus(z) = max(z, 0) + log1p(exp(-|z|))` and the sigmoid are both computed from the side
 * that cannot overflow, and the gradient as `(1 - y) sigmoid(x) - y sigmoid(-x)`, so that a
 * confident prediction keeps the digits of its small gradient; so a logit of ±1e4 (or ±1e9) gives the exact loss: 0 on the right side,
 * `|x|` on the wrong one. A term whose coefficient is 0 is 0, also at an infinite logit.
 *
 * @example
 * ```ts
 * import { sigmoidBinaryCrossEntropy } from "gradtx/losses";
 * // From optax's _classification_test.py: logits (-1e9, -1e-9), labels (1, 0), mean 5e8.
 * const { value, grad } = sigmoidBinaryCrossEntropy(Float64Array.of(-1e9, -1e-9), Float64Array.of(1, 0));
 * value; // ≈ 5e8
 * // grad ≈ [-0.5, 0.25] (±1e-9): (sigmoid(x) - y) / 2
 * ```
 * @since 0.3.0
 */
export function sigmoidBinaryCrossEntropy<L extends Leaf>(logits: L, labels: Leaf): LossAndGrad<L> {
  const where = "sigmoidBinaryCrossEntropy";
  const { data: x, shape } = readPredictions(where, "logits", logits);
  const y = readLike(where, "labels", labels, logits, shape);
  const round = roundingOf(x);
  const Ctor = ctorOf(logits);
  const n = x.length;
  const losses = new Ctor(n);
  const grad = new Ctor(n);
  for (let j = 0; j < n; j++) {
    const z = x[j]!;
    const label = y[j]!;
    const other = round(1 - label);
    const positive = label === 0 ? 0 : round(label * softplus(-z, round));
    const negative = other === 0 ? 0 : round(other * softplus(z, round));
    losses[j] = round(positive + negative);
    // sigmoid(x) - y as (1 - y) sigmoid(x) - y sigmoid(-x): exact in digits for 0/1 labels, where
    // sigmoid(x) - 1 would keep none of a confident prediction's.
    const slope = round(
      (other === 0 ? 0 : round(other * sigmoid(z, round))) - (label === 0 ? 0 : round(label * sigmoid(-z, round))),
    );
    grad[j] = round(slope / n);
  }
  return result(logits, losses, grad);
}
