/**
 * Recording measurements of the updates in the state: `snapshot`, `monitor`.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, ShapesState, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import { flatten, shapesOf, type PyTree } from "../core/pytree.js";
import { checkShapes, copyTree, stateRecord, zerosTree } from "../core/state.js";
import { checkTransformation } from "../core/validate.js";
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
    name: where,
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

/** The state of {@link monitor} (optax's `MonitorState`), with the params' shapes. @since 0.3.0 */
export interface MonitorState extends ShapesState {
  /** Name -> the last measurement. */
  readonly measurements: Readonly<Record<string, unknown>>;
  /** The states of the measures, in the order of the names given (a function's is `{}`). */
  readonly measureStates: readonly unknown[];
}

/** A measure of {@link monitor}: a function of the updates, or a transformation whose updates are the measurement. @since 0.3.0 */
export type Measure = GradientTransformation<unknown> | ((updates: PyTree) => unknown);

/**
 * Records several measurements of the updates in the state and passes the updates on
 * untouched, as optax's `monitor`: a measure is a function of the updates (as in
 * {@link snapshot}), or a transformation, whose state carries over from step to step (a moving
 * average, say) and whose updates are the measurement. Every measure gets the step's params and
 * `extra`. The measures run as plain TypeScript (a barrier: the kernels before and after it
 * still fuse), in the order given; measurements are copied into the state.
 *
 * ```
 * u' = u;  measurements'[name] = measure(u)  or  measurement, measureState' = measure.update(u, measureState, params, extra)
 * ```
 *
 * Where gradtx must differ: optax's `init` leaves `measurements` empty, so its first state has
 * another structure than the later ones; gradtx's `init` measures the params with the functions
 * and gives each transformation's measurement as zeros like the params (what its updates look
 * like before a step), so that a state checkpoints against a fresh `init` (a transformation whose
 * measurement is not shaped like the params, a number say, checkpoints against a state after a
 * step instead). gradtx also keeps the params' shapes. The type needs the `extra` fields the measure transformations' types need.
 *
 * @param measures Name -> {@link Measure}.
 * @example
 * ```ts
 * import { chain, ema, monitor, sgd, tree } from "gradtx";
 * const opt = chain(sgd(0.1), monitor({ norm: (u) => tree.norm(u), smoothed: ema(0.5, { debias: false }) }));
 * const p = Float64Array.of(3, 4);
 * let state = opt.init(p);
 * // sgd's updates are [-3, -4]:
 * [, state] = opt.update(Float64Array.of(30, 40), state, p);
 * tree.get(state, "norm"); // 5
 * tree.get(state, "smoothed"); // Float64Array.of(-1.5, -2): 0.5 * 0 + 0.5 * u
 * ```
 * @since 0.3.0
 */
export function monitor<const T extends Readonly<Record<string, Measure>>>(
  measures: T,
): WithExtraArgs<MonitorState, ExtraArgsNeeded<Extract<T[keyof T], GradientTransformation<unknown>>>> {
  const where = "monitor";
  if (typeof measures !== "object" || measures === null || Array.isArray(measures))
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: measures must be an object of name -> measure`);
  // Each measure is read once (a getter runs once): the one checked is the one used.
  const parts = Object.keys(measures).map((name) => {
    const measure: unknown = measures[name];
    if (typeof measure !== "function") checkTransformation(`${where}: measures["${name}"]`, measure);
    return [name, measure as Measure] as const;
  });
  const record = (values: readonly unknown[]) => Object.fromEntries(parts.map(([name], i) => [name, values[i]]));
  return new Transformation<MonitorState>({
    kind: "opaque",
    name: where,
    tx: {
      init(params) {
        const flat = flatten(params);
        return {
          shapes: shapesOf(flat),
          measurements: record(
            parts.map(([, m]) => (typeof m === "function" ? measured(where, m, params) : zerosTree(flat))),
          ),
          measureStates: parts.map(([, m]) => (typeof m === "function" ? {} : m.init(params))),
        };
      },
      update(updates, state, params, extra) {
        const s = stateRecord<MonitorState>(where, state, ["shapes", "measurements", "measureStates"]);
        checkShapes(`${where}.shapes`, s.shapes, flatten(updates));
        if (!Array.isArray(s.measureStates) || s.measureStates.length !== parts.length)
          throw new GradTxError(
            "BAD_STATE",
            `${where}: measureStates must be an array of ${parts.length} states, one per measure`,
          );
        const values: unknown[] = [];
        const states = parts.map(([, m], i) => {
          if (typeof m === "function") {
            values.push(measured(where, m, updates));
            return {};
          }
          const [measurement, next] = m.update(updates, s.measureStates[i], params, extra);
          values.push(measured(where, () => measurement, updates));
          return next;
        });
        return [updates, { shapes: s.shapes, measurements: record(values), measureStates: states }];
      },
    },
  }) as never;
}
