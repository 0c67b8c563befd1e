/**
 * Zero updates: `setToZero`.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { constant } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

/** Zeros for every update: the declaration of {@link setToZero}, which conditionallyMask runs too. */
export const ZEROS = declare({ name: "setToZero", body: () => ({ update: constant(0) }) });

/**
 * Maps every update to zero, as optax's `set_to_zero`: applied, the updates leave the params
 * where they are. On its own it freezes everything; inside {@link masked} (that is,
 * {@link freeze}) or {@link multiTransform} it freezes the leaves it is given. It is an
 * elementwise kernel: it fuses with its neighbours and compiles.
 *
 * `u' = 0` (in each leaf's dtype and kind)
 *
 * gradtx keeps the params' shapes in the state (`ShapesState`) where optax keeps an empty state,
 * so that an update of another structure or shape is refused as by every other transformation.
 *
 * @example
 * ```ts
 * import { setToZero } from "gradtx";
 * const tx = setToZero();
 * const g = Float32Array.of(1, -2, NaN);
 * const [u] = tx.update(g, tx.init(g));
 * u; // Float32Array.of(0, 0, 0)
 * ```
 * @since 0.3.0
 */
export function setToZero(): GradientTransformation<ShapesState> {
  return elementwise<ShapesState>(ZEROS);
}
