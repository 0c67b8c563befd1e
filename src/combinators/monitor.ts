/**
 * Recording measurements of the updates in the state: `snapshot`.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../base.js";
import { GradTxError } from "../errors.js";
import { Transformation } from "../kernels/executor.js";
import { flatten, shapesOf, type PyTree } from "../pytree.js";
import { checkShapes, copyTree, stateRecord } from "../state.js";
import { checkCallback } from "./stateless.js";

/** The state of {@link snapshot} (optax's `SnapshotState`), with the params' shapes. @since 0.3.0 */
export interface SnapshotState<M> extends ShapesState {
  /** `measureName` -> the last measurement (of the params after `init`, of the updates after a step). */
  readonly measurement: Readonly<Record<string, M>>;
}

/** `measure(tree)`, checked to be a number or a pytree; a pytree's arrays are copied, so that the state owns them. */
function measured<M>(where: string, measure: (tree: PyTree) => M, tree: PyTree): M {
  const m: unknown = measure(tree);
  if (typeof m === "number") return m as M;
  let flat;
  try {
    flat = flatten(m as PyTree);
  } catch {
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: measure must return a number or a pytree, got ${m === null ? "null" : typeof m}`,
    );
  }
  return copyTree(flat) as M;
}

/**
 * Records a measurement of the updates in the state and passes the updates on untouched, as
 * optax's `snapshot`: in a chain, it sees the updates as the parts before it left them, so it is
 * a way to log, say, the norm before a clip. `init` measures the params, so that the state has
 * its shape from the start (and checkpoints against a fresh `init`). `measure` runs as plain
 * TypeScript (a barrier: the kernels before and after it still fuse); it must not mutate its
 * argument, and may return a number or a pytree (whose arrays the state copies, so that a
 * buffer reused by the caller does not change it). Read it with `tree.get(state, measureName)`.
 *
 * ```
 * u' = u;  state'.measurement = { [measureName]: measure(u) }
 * ```
 *
 * gradtx also keeps the params' shapes in the state (`ShapesState`), to refuse updates of
 * another structure as every other transformation does.
 *
 * @param measureName The measurement's name in the state.
 * @param measure `(updates) => number | PyTree`.
 * @example
 * ```ts
 * import { applyUpdates, chain, clipByGlobalNorm, sgd, snapshot, tree } from "gradtx";
 * // optax's doctest: sgd with momentum, the norm measured before the clip, f(x) = sum(x^2).
 * const opt = chain(sgd(0.1, { momentum: 0.9 }), snapshot("normBeforeClip", (u) => tree.norm(u)), clipByGlobalNorm(0.05));
 * let params = Float64Array.of(1, 2, 3);
 * let state = opt.init(params);
 * const norms: string[] = [];
 * for (let step = 0; step < 2; step++) {
 *   const [updates, next] = opt.update(params.map((x) => 2 * x), state, params);
 *   params = applyUpdates(params, updates);
 *   state = next;
 *   norms.push((tree.get(state, "normBeforeClip") as number).toExponential(2));
 * }
 * norms; // ["7.48e-1", "1.41e+0"]: optax prints 7.48e-01 and 1.41e+00
 * ```
 * @since 0.3.0
 */
export function snapshot<M = number | PyTree>(
  measureName: string,
  measure: (updates: PyTree) => M,
): GradientTransformation<SnapshotState<M>> {
  const where = "snapshot";
  if (typeof measureName !== "string" || measureName === "")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: measureName must be a non-empty string, got ${JSON.stringify(measureName) ?? typeof measureName}`,
    );
  checkCallback(where, "measure", measure, "a function (updates) => number | PyTree");
  const record = (m: M) => Object.fromEntries([[measureName, m]]) as Readonly<Record<string, M>>;
  return new Transformation<SnapshotState<M>>({
    kind: "opaque",
    tx: {
      init: (params) => ({ shapes: shapesOf(flatten(params)), measurement: record(measured(where, measure, params)) }),
      update(updates, state) {
        const { shapes } = stateRecord<SnapshotState<M>>(where, state, ["shapes", "measurement"]);
        checkShapes(`${where}.shapes`, shapes, flatten(updates));
        return [updates, { shapes, measurement: record(measured(where, measure, updates)) }];
      },
    },
  });
}
