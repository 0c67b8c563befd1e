/**
 * `gradtx/losses`: loss functions that give their value and their gradient with respect to the
 * predictions in one pass, for training without automatic differentiation. Each is optax's
 * function of the same name (camelCased), which gives only the per-example losses because JAX
 * differentiates them; here the result also has their mean and its gradient
 * ({@link LossAndGrad}).
 *
 * Shapes: the softmax losses read the classes from the last dimension of an ndarray
 * (`[batch, classes]`, or more batch dimensions), and a flat typed array as one example; the
 * elementwise losses take any leaf. The gradient has the predictions' shape, dtype and kind.
 *
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { softmaxCrossEntropyWithIntegerLabels } from "gradtx/losses";
 * const logits = ndarray(Float64Array.of(2, 0, 0, 0, 2, 0), [2, 3]);
 * const { value, grad } = softmaxCrossEntropyWithIntegerLabels(logits, [0, 1]);
 * // value ≈ Math.log(1 + 2 * Math.exp(-2)): the loss of each example, so their mean too
 * grad.shape; // [2, 3]
 * ```
 *
 * @packageDocumentation
 */
export { type LeafLike, type LossAndGrad } from "./result.js";
export {
  sigmoidBinaryCrossEntropy,
  softmaxCrossEntropy,
  softmaxCrossEntropyWithIntegerLabels,
} from "./classification.js";
export { huberLoss, l2Loss, squaredError, type HuberLossOptions } from "./regression.js";
