/**
 * Gradient centralization (Yong et al., 2020): each slice along the leading axis minus its mean,
 * optax's `centralize`.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { ctorOf, dataOf, flatten, unflatten, type PyTree } from "../core/pytree.js";
import { meanMiddle, readShaped, shapesRecord, sizeBetween, updateLeaf } from "./shaped.js";

/**
 * Centralizes gradients (Yong et al., 2020, "Gradient Centralization: A New Optimization
 * Technique for Deep Neural Networks"), as optax's `centralize`: a leaf of two or more
 * dimensions loses, from each slice along its leading axis, that slice's mean; vectors pass as
 * they are.
 *
 * ```
 * u'[i, ...] = u[i, ...] - mean(u[i, ...])     (leaves of shape [n0, n1, ...]; vectors unchanged)
 * ```
 *
 * The shapes are the params' at `init` (a typed array is a vector). Each slice's mean is summed in
 * float64 and rounded once to the leaf's dtype, then subtracted in it. It is not elementwise (a
 * mean per row): it runs as plain TypeScript between the executor's fused passes. Its state is
 * the record of the shapes (optax's is empty).
 *
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { centralize } from "gradtx";
 * // optax's doctest: [[1, 2, 3], [4, 5, 6]] becomes [[-1, 0, 1], [-1, 0, 1]].
 * const g = ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
 * const tx = centralize();
 * const [u] = tx.update(g, tx.init(g));
 * Array.from((u as { data: Float64Array }).data); // [-1, 0, 1, -1, 0, 1]
 * ```
 * @since 0.3.0
 */
export function centralize(): GradientTransformation<ShapesState> {
  const where = "centralize";
  const init = (params: PyTree): ShapesState => ({ shapes: shapesRecord(params) });
  const update = (updates: PyTree, state: ShapesState): readonly [PyTree, ShapesState] => {
    const flat = flatten(updates);
    const { record, shapes } = readShaped<ShapesState>(where, state, ["shapes"], flat);
    if (shapes.every((shape) => shape.length < 2)) return [updates, record];
    const out = flat.leaves.map((leaf, i) => {
      const shape = shapes[i]!;
      if (shape.length < 2) return leaf;
      const x = dataOf(leaf);
      const rows = shape[0]!;
      const n = sizeBetween(shape, 1, shape.length);
      const mean = new (ctorOf(leaf))(rows);
      // Each row's mean, rounded once, then subtracted in the leaf's dtype.
      meanMiddle(x, rows, n, 1, mean);
      const y = new (ctorOf(leaf))(x.length);
      for (let r = 0; r < rows; r++) {
        const m = mean[r]!;
        for (let j = r * n; j < (r + 1) * n; j++) y[j] = x[j]! - m;
      }
      return updateLeaf(flat, i, y);
    });
    return [unflatten(flat.def, out), record];
  };
  return barrier("Centralize", init, update);
}
