/**
 * Transformations from plain functions of the updates: `stateless`, `statelessWithTreeMap`.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import { flatten, shapesOf, type Leaf, type PyTree } from "../core/pytree.js";
import { checkShapes, stateRecord } from "../core/state.js";
import { map } from "../core/tree.js";

/** Throws `INVALID_HYPERPARAMETER` unless `fn` is a function. */
export function checkCallback(where: string, name: string, fn: unknown, expected: string): void {
  if (typeof fn !== "function")
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: ${name} must be ${expected}, got ${typeof fn}`);
}

/**
 * A barrier that keeps only the params' shapes and maps the updates with `fn`: the executor runs
 * it as plain TypeScript between the fused kernels around it.
 */
export function shapesBarrier(
  where: string,
  fn: (updates: PyTree, params: PyTree | undefined) => PyTree,
): GradientTransformation<ShapesState> {
  return new Transformation<ShapesState>({
    kind: "opaque",
    name: where,
    tx: {
      init: (params) => ({ shapes: shapesOf(flatten(params)) }),
      update(updates, state, params) {
        const { shapes } = stateRecord<ShapesState>(where, state, ["shapes"]);
        checkShapes(`${where}.shapes`, shapes, flatten(updates));
        return [fn(updates, params), { shapes }];
      },
    },
  });
}

/**
 * A transformation from a function of the updates and the params, as optax's `stateless`: it
 * keeps no state between steps. `fn` runs as plain TypeScript (a barrier: the kernels before and
 * after it still fuse); it must return a tree of the updates' structure and shapes and must not
 * mutate its arguments.
 *
 * `u' = fn(u, params)` (`params` is `undefined` when the caller gave none)
 *
 * gradtx keeps the params' shapes in the state (`ShapesState`) where optax keeps an empty state,
 * so that an update of another structure or shape is refused as by every other transformation.
 *
 * @param fn `(updates, params) => updates`.
 * @example
 * ```ts
 * import { stateless, tree } from "gradtx";
 * // Adds 0.1 of the params to the updates:
 * const tx = stateless((u, p) => (p === undefined ? u : tree.addScale(u, 0.1, p)));
 * const p = Float64Array.of(10, 20);
 * const [u] = tx.update(Float64Array.of(1, 2), tx.init(p), p);
 * u; // Float64Array.of(2, 4)
 * ```
 * @since 0.3.0
 */
export function stateless(
  fn: (updates: PyTree, params: PyTree | undefined) => PyTree,
): GradientTransformation<ShapesState> {
  checkCallback("stateless", "fn", fn, "a function (updates, params) => updates");
  return shapesBarrier("stateless", fn);
}

/**
 * {@link stateless} for a function of one leaf, as optax's `stateless_with_tree_map`: `fn` is
 * called on each update leaf with the matching param leaf (`undefined` when the caller gave no
 * params) and must return a leaf of the same shape, without mutating its arguments.
 *
 * `u'_i = fn(u_i, params_i)`
 *
 * @param fn `(update, param) => update`, per leaf.
 * @example
 * ```ts
 * import { statelessWithTreeMap } from "gradtx";
 * const tx = statelessWithTreeMap((u) => (u as Float64Array).map((x) => x * x));
 * const g = { a: Float64Array.of(1, 2), b: Float64Array.of(3) };
 * const [u] = tx.update(g, tx.init(g));
 * // u.a = [1, 4]; u.b = [9]
 * ```
 * @since 0.3.0
 */
export function statelessWithTreeMap(
  fn: (update: Leaf, param: Leaf | undefined) => Leaf,
): GradientTransformation<ShapesState> {
  checkCallback("statelessWithTreeMap", "fn", fn, "a function (update, param) => update");
  return shapesBarrier("statelessWithTreeMap", (updates, params) =>
    params === undefined ? map((u) => fn(u, undefined), updates) : map((u, p) => fn(u, p), updates, params),
  );
}
