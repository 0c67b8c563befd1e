/**
 * Hyperparameters that live in the state.
 *
 * @module
 */
import type { GradientTransformation, Schedule } from "../base.js";
import { GradTxError } from "../errors.js";
import { increment, stateCount, stateRecord } from "../state.js";

/** The state of {@link injectHyperparams}. @since 0.1.0 */
export interface InjectHyperparamsState<S> {
  /** Steps taken; schedules are read at this count. */
  readonly count: number;
  /** The hyperparameters the last step used (init: the first step's). Replace them to change the next step. */
  readonly hyperparams: Readonly<Record<string, number>>;
  /** The inner optimizer's state. */
  readonly inner: S;
}

/**
 * Builds an optimizer whose numeric hyperparameters live in its state, as optax's
 * `inject_hyperparams`: they can be read for logging and replaced between steps, and those
 * given as schedules are evaluated at the step count (before it advances). Everything the
 * factory closes over (a `syncPeriod`, a mask) stays static.
 *
 * ```
 * h_t = { k: schedule_k(count) for schedules, state.hyperparams[k] otherwise }
 * u', inner' = factory(h_t).update(u, inner, params)
 * ```
 *
 * The factory runs once per step, so it must be cheap (gradtx's factories are).
 *
 * @example
 * ```ts
 * import { adam, injectHyperparams, lookahead, exponentialDecay } from "gradtx";
 * const opt = injectHyperparams((h) => lookahead(adam(h.learningRate), { alpha: h.alpha, syncPeriod: 5 }), {
 *   learningRate: exponentialDecay({ initValue: 1e-3, transitionSteps: 1000, decayRate: 0.5 }),
 *   alpha: 0.5,
 * });
 * let state = opt.init({ w: new Float32Array(3) });
 * state = { ...state, hyperparams: { ...state.hyperparams, alpha: 0.8 } }; // from the next step on
 * ```
 * @since 0.1.0
 */
export function injectHyperparams<K extends string, S>(
  factory: (hyperparams: Readonly<Record<K, number>>) => GradientTransformation<S>,
  hyperparams: Readonly<Record<K, number | Schedule>>,
): GradientTransformation<InjectHyperparamsState<S>> {
  if (typeof factory !== "function")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      "injectHyperparams: factory must be a function of the hyperparameters",
    );
  const names = Object.keys(hyperparams).sort() as K[];
  for (const name of names) {
    const v = hyperparams[name];
    if (typeof v !== "function" && (typeof v !== "number" || Number.isNaN(v)))
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `injectHyperparams: ${name} must be a number or a schedule, got ${String(v)}`,
      );
  }
  /** The hyperparameters of the step at `count`: schedules evaluated, the rest from `current`. */
  const at = (count: number, current: Readonly<Record<string, unknown>>): Record<K, number> => {
    const out = {} as Record<K, number>;
    for (const name of names) {
      const given = hyperparams[name];
      const value = typeof given === "function" ? given(count) : current[name];
      if (typeof value !== "number")
        throw new GradTxError(
          "BAD_STATE",
          `injectHyperparams: hyperparameter ${name} is ${String(value)}, not a number`,
        );
      out[name] = value;
    }
    return out;
  };
  // Built once now, so that bad hyperparameters throw at construction.
  const initial = at(0, hyperparams);
  factory(initial);
  return {
    init: (params) => ({ count: 0, hyperparams: initial, inner: factory(initial).init(params) }),
    update(updates, state, params) {
      const s = stateRecord<InjectHyperparamsState<S>>("injectHyperparams", state, ["count", "hyperparams", "inner"]);
      const count = stateCount("injectHyperparams", s.count);
      if (typeof s.hyperparams !== "object" || s.hyperparams === null)
        throw new GradTxError("BAD_STATE", "injectHyperparams: hyperparams must be an object of numbers");
      const h = at(count, s.hyperparams);
      const [u, inner] = factory(h).update(updates, s.inner, params);
      return [u, { count: increment(count), hyperparams: h, inner }];
    },
  };
}
