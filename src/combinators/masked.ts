/**
 * Applying a transformation to some of the leaves: `masked`.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, StateOf, WithExtraArgs } from "../core/base.js";
import { isBoolean } from "../core/partition.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { resolveMask, type Mask } from "../transforms/adding.js";
import { checkTransformation } from "../core/validate.js";
import { checkPerLeafSpec } from "./parts.js";

/**
 * The state of {@link masked}: the inner state over the selected leaves only.
 *
 * The inner transformation never sees a masked-out leaf: where optax puts a `MaskedNode`, gradtx
 * puts `null`, an empty subtree, so the inner state holds `null` there too (e.g. Adam's `mu` is
 * `{ w: Float64Array, b: null }` when `b` is masked out).
 *
 * @since 0.1.0
 */
export interface MaskedState<S> {
  /** The inner transformation's state over the selected leaves (`null` in place of the others). */
  readonly inner: S;
}

/**
 * Runs `inner` on the leaves `mask` selects; the other leaves pass through untouched (the very
 * same arrays), as optax's `masked`. The inner transformation sees the updates (and params) with
 * every masked-out leaf replaced by `null`, an empty subtree, so it neither computes nor stores
 * anything for them, and a global quantity such as `clipByGlobalNorm`'s norm covers the selected
 * leaves only.
 *
 * ```
 * u'_i = mask_i ? inner(u restricted to the mask)_i : u_i
 * ```
 *
 * @param inner The transformation for the selected leaves.
 * @param mask A tree of booleans shaped like the params (a boolean may stand for a whole
 *   subtree), or a predicate `(path, leaf) => boolean`; the predicate sees the param leaves at
 *   `init` and the update leaves at `update`, and must select the same leaves in both.
 * @example
 * ```ts
 * import { adam, masked } from "gradtx";
 * // Adam for the weights, the biases' gradients pass through as they are:
 * const tx = masked(adam(1e-3), (path) => !path.endsWith(".b"));
 * const params = { layer: { w: Float64Array.of(1, 2, 3), b: Float64Array.of(0) } };
 * const grads = { layer: { w: Float64Array.of(2, 4, 6), b: Float64Array.of(1) } };
 * const [u] = tx.update(grads, tx.init(params), params);
 * // u.layer.w ≈ [-1e-3, -1e-3, -1e-3]: Adam's first step
 * (u as typeof grads).layer.b === grads.layer.b; // true: the very same array
 * ```
 *
 * The result needs the `extra` fields `inner` needs (`masked(reduceOnPlateau(), mask)` needs `{ value }`).
 *
 * @since 0.1.0
 */
export function masked<T extends GradientTransformation<unknown>>(
  inner: T,
  mask: Mask,
): WithExtraArgs<MaskedState<StateOf<T>>, ExtraArgsNeeded<T>>;
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<MaskedState<S>> {
  checkTransformation("masked", inner);
  checkPerLeafSpec("masked", mask, isBoolean, "a mask: a tree of booleans or a predicate (path, leaf) => boolean");
  // The executor runs the inner node on the selected leaves: its kernels fuse with whatever comes
  // before and after the mask, and an opaque inner transformation sees the selected sub-tree.
  return new Transformation<MaskedState<S>>({
    kind: "masked",
    inner: nodeOf(inner as GradientTransformation<unknown>),
    select: (tree) => resolveMask("masked", mask, tree),
  });
}
