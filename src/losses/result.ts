/**
 * What every loss returns, and how the losses read their inputs.
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  isLeaf,
  shapeOf,
  type FloatArray,
  type FloatNdArray,
  type Leaf,
} from "../core/pytree.js";

/**
 * A leaf of the kind and dtype of `L`: what a loss's gradient is for predictions of type `L`
 * (a `Float32Array` for a `Float32Array`, an ndarray of the same shape for an ndarray).
 *
 * @since 0.3.0
 */
export type LeafLike<L extends Leaf> = L extends Float32Array
  ? Float32Array
  : L extends Float64Array
    ? Float64Array
    : L extends FloatNdArray<infer D>
      ? FloatNdArray<D>
      : Leaf;

/**
 * A loss and its gradient, from one pass over the predictions.
 *
 * - `losses`: what optax's function of the same name returns, in the predictions' dtype: one
 *   loss per example for the softmax losses (the batch dimensions in row-major order), one per
 *   element for the elementwise losses.
 * - `value`: the mean of `losses`, summed in float64: the number a training loop minimises.
 * - `grad`: the gradient of `value` (the mean, not the sum) with respect to the predictions, of
 *   their shape, dtype and kind. For the gradient of the sum, multiply by `losses.length`.
 *
 * @since 0.3.0
 */
export interface LossAndGrad<L extends Leaf> {
  /** The loss of each example (or element), in the predictions' dtype. */
  readonly losses: FloatArray;
  /** The mean of `losses`. */
  readonly value: number;
  /** `d value / d predictions`. */
  readonly grad: LeafLike<L>;
}

/** `x` as a leaf, or `NOT_A_PYTREE` naming the argument. */
function leafOf(where: string, name: string, x: unknown): Leaf {
  if (!isLeaf(x))
    throw new GradTxError(
      "NOT_A_PYTREE",
      `${where}: ${name} must be a Float32Array, a Float64Array or an ndarray over one`,
      name,
    );
  return x;
}

/** The prediction leaf's elements and shape; `NOT_A_PYTREE` for anything else, `SHAPE_MISMATCH` for no elements. */
export function readPredictions(
  where: string,
  name: string,
  x: unknown,
): { data: FloatArray; shape: readonly number[] } {
  const data = dataOf(leafOf(where, name, x));
  if (data.length === 0) throw new GradTxError("SHAPE_MISMATCH", `${where}: ${name} has no elements`, name);
  return { data, shape: shapeOf(x as Leaf) };
}

/**
 * A second leaf (labels, targets) of the predictions' shape, its elements in the predictions'
 * dtype (converted when its own differs, so that the arithmetic is the predictions').
 */
export function readLike(where: string, name: string, x: unknown, like: Leaf, shape: readonly number[]): FloatArray {
  const leaf = leafOf(where, name, x);
  const own = shapeOf(leaf);
  if (own.length !== shape.length || own.some((n, i) => n !== shape[i]))
    throw new GradTxError(
      "SHAPE_MISMATCH",
      `${where}: ${name} must have the predictions' shape [${shape.join(",")}], got [${own.join(",")}]`,
      name,
    );
  const data = dataOf(leaf);
  const Ctor = ctorOf(like);
  return data instanceof Ctor ? data : Ctor.from(data);
}

/** Rounds to float32 when the arithmetic is float32's, else leaves a float64 as it is. */
export type Round = (x: number) => number;
const exact: Round = (x) => x;

/** The rounding of every operation in the dtype of `data`. */
export function roundingOf(data: FloatArray): Round {
  return data instanceof Float32Array ? Math.fround : exact;
}

/** Neumaier-compensated mean of `xs`, in float64. */
export function meanOf(xs: FloatArray): number {
  let sum = 0;
  let compensation = 0;
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j]!;
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  // Past an infinity the compensation is NaN (Infinity - Infinity); the sum alone is right then.
  return (Number.isFinite(sum) ? sum + compensation : sum) / xs.length;
}

/** Assembles the result, the gradient wrapped as a leaf of the predictions' kind. */
export function result<L extends Leaf>(predictions: L, losses: FloatArray, grad: FloatArray): LossAndGrad<L> {
  return { losses, value: meanOf(losses), grad: asLeafLike(predictions, grad) as LeafLike<L> };
}
