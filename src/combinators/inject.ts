/**
 * Hyperparameters that live in the state: `injectHyperparams`.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, Schedule, StateOf, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { checkTransformation } from "../core/validate.js";

/** The state of {@link injectHyperparams}. @since 0.1.0 */
export interface InjectHyperparamsState<S> {
  /** Steps taken; schedules are read at this count, before it advances. */
  readonly count: number;
  /**
   * The hyperparameters of the last step (after `init`: those the first step will use unless
   * replaced). Replace a constant one, by building a new state object, to change the next step;
   * a scheduled one is recomputed from its schedule at every step, so replacing it has no effect.
   */
  readonly hyperparams: Readonly<Record<string, number>>;
  /** The inner optimizer's state. */
  readonly inner: S;
}

/**
 * Builds an optimizer whose numeric hyperparameters live in its state, as optax's
 * `inject_hyperparams`: they can be read for logging and replaced between steps, and those
 * given as schedules are evaluated at the step count before it advances (the first step reads
 * `schedule(0)`) and written into the state. Everything the factory closes over instead of
 * reading from its argument (a `syncPeriod`, a mask, a boolean) stays static.
 *
 * ```
 * h = { k: schedule_k(count) for scheduled k, state.hyperparams[k] for the others }
 * u', inner' = factory(h).update(u, state.inner, params)
 * state' = { count: count + 1, hyperparams: h, inner: inner' }
 * ```
 *
 * The factory is called once per step, so it must be cheap (gradtx's factories only check their
 * arguments and declare their kernels; a kernel declared again with new numbers runs on the
 * passes built for the first, fused with what surrounds the injection). It is called once at
 * construction too, with the
 * hyperparameters of the first step, so that bad ones throw there (`INVALID_HYPERPARAMETER`);
 * a value replaced in the state is checked by the factory at the step that reads it.
 *
 * @param factory Builds the optimizer from numbers: `(h) => adam(h.learningRate, { b1: h.b1 })`.
 * @param hyperparams Name -> a number or a {@link Schedule}.
 * @example
 * ```ts
 * import { adam, exponentialDecay, injectHyperparams, lookahead } from "gradtx";
 * const opt = injectHyperparams((h) => lookahead(adam(h.learningRate), { alpha: h.alpha, syncPeriod: 5 }), {
 *   learningRate: exponentialDecay({ initValue: 1e-3, transitionSteps: 1000, decayRate: 0.5 }),
 *   alpha: 0.5,
 * });
 * let state = opt.init({ w: new Float32Array(3) });
 * state.hyperparams; // { alpha: 0.5, learningRate: 0.001 }: for logging
 * // From the next step on:
 * state = { ...state, hyperparams: { ...state.hyperparams, alpha: 0.8 } };
 * ```
 *
 * The result needs the `extra` fields the factory's transformations need.
 *
 * @since 0.1.0
 */
export function injectHyperparams<K extends string, T extends GradientTransformation<unknown>>(
  factory: (hyperparams: Readonly<Record<K, number>>) => T,
  hyperparams: Readonly<Record<K, number | Schedule>>,
): WithExtraArgs<InjectHyperparamsState<StateOf<T>>, ExtraArgsNeeded<T>>;
export function injectHyperparams<K extends string, S>(
  factory: (hyperparams: Readonly<Record<K, number>>) => GradientTransformation<S>,
  hyperparams: Readonly<Record<K, number | Schedule>>,
): GradientTransformation<InjectHyperparamsState<S>> {
  const where = "injectHyperparams";
  if (typeof factory !== "function")
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: factory must be a function of the hyperparameters`);
  if (typeof hyperparams !== "object" || hyperparams === null || Array.isArray(hyperparams))
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: hyperparams must be an object of name -> number or schedule`,
    );
  const names = Object.keys(hyperparams).sort() as K[];
  // Each value is read once (a getter runs once): the one checked is the one used.
  const given: Readonly<Record<string, unknown>> = Object.fromEntries(names.map((name) => [name, hyperparams[name]]));
  const schedules = names.map((name): Schedule | null => {
    const value = given[name];
    if (typeof value === "function") return value as Schedule;
    if (typeof value !== "number" || Number.isNaN(value))
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `${where}: ${name} must be a number or a schedule, got ${typeof value === "number" ? value : typeof value}`,
      );
    return null;
  });

  /** The hyperparameters of the step at `count`: schedules evaluated, the others read from `current`. */
  const at = (count: number, current: Readonly<Record<string, unknown>>): Record<K, number> => {
    const out = {} as Record<K, number>;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const schedule = schedules[i]!;
      const value = schedule === null ? current[name] : schedule(count);
      if (typeof value !== "number")
        throw schedule === null
          ? new GradTxError("BAD_STATE", `${where}: hyperparams.${name} must be a number, got ${typeof value}`)
          : new GradTxError(
              "INVALID_HYPERPARAMETER",
              `${where}: the schedule of ${name} gave ${typeof value} at step ${count}, not a number`,
            );
      out[name] = value;
    }
    return out;
  };

  // Built once now, so that bad hyperparameters throw at construction.
  const initial = at(0, given);
  const first = factory(initial);
  checkTransformation(`${where}: the factory's result`, first);

  // Each step plans the node the factory builds from that step's numbers: its kernels run with
  // them as their hyperparameters, on the passes built for the first step's (the code is the
  // same), fused with whatever surrounds the injection.
  return new Transformation<InjectHyperparamsState<S>>({
    kind: "inject",
    initial,
    hyperparams: at,
    inner: (h) => nodeOf(factory(h as Readonly<Record<K, number>>) as GradientTransformation<unknown>),
    template: nodeOf(first as GradientTransformation<unknown>),
  });
}
