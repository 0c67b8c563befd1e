/**
 * Holding some of the params fixed: `freeze`.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import type { Mask } from "../transforms/adding.js";
import { setToZero } from "../transforms/zero.js";
import { masked, type MaskedState } from "./masked.js";

/**
 * Zeros the updates of the leaves `mask` selects and leaves the others as they are (the very
 * same arrays), as optax's `freeze`: the selected params stay where they are. It is
 * `masked(setToZero(), mask)`, so it fuses with its neighbours and compiles.
 *
 * ```
 * u'_i = mask_i ? 0 : u_i
 * ```
 *
 * Put it after the optimizer (`chain(adam(1e-3), freeze(mask))`) to hold leaves fixed while the
 * optimizer still keeps state for them, or use {@link multiTransform} with {@link setToZero} for
 * the frozen label to keep none.
 *
 * @param mask `true` to freeze a leaf: a boolean for the whole tree, a tree of booleans shaped
 *   like the params (a boolean may stand for a whole subtree), or a predicate `(path, leaf) => boolean`.
 * @example
 * ```ts
 * import { freeze } from "gradtx";
 * const tx = freeze({ a: true, b: false }); // freeze a, train b
 * const g = { a: Float64Array.of(1), b: Float64Array.of(2, 3) };
 * const [u] = tx.update(g, tx.init(g));
 * // u.a = [0]; u.b = [2, 3]
 * (u as typeof g).b === g.b; // true: the very same array
 * ```
 * @since 0.3.0
 */
export function freeze(mask: Mask): GradientTransformation<MaskedState<ShapesState>> {
  return masked(setToZero(), mask);
}
