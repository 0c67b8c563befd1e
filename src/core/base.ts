/**
 * The core types: gradient transformations, schedules and empty states.
 *
 * @module
 */
import { flatten, type AsPyTree, type PyTree } from "./pytree.js";

/**
 * A schedule maps a step count (from 0) to a value, e.g. a learning rate.
 *
 * @example
 * ```ts
 * import type { Schedule } from "gradtx";
 * const halving: Schedule = (step) => 0.1 * 0.5 ** Math.floor(step / 1000);
 * ```
 * @since 0.1.0
 */
export type Schedule = (step: number) => number;

/** A hyperparameter given as a constant or as a {@link Schedule} of the step count. @since 0.1.0 */
export type ScalarOrSchedule = number | Schedule;

/**
 * What a transformation may be given beyond the updates, the state and the params, as optax's
 * `GradientTransformationExtraArgs`: `update(updates, state, params, extra)`. Every field is
 * optional; a transformation that needs one it did not get throws `MISSING_EXTRA_ARG`, naming
 * it. `chain`, `lookahead` and every combinator hand `extra` to their parts as the caller gave it
 * (Lookahead's inner optimizer gets the `value` at the fast weights, which are the params).
 *
 * The executor checks `extra` once per step: a non-object, or a field of the wrong type, throws
 * `INVALID_HYPERPARAMETER` naming the field; an unknown key throws naming the nearest field; a
 * `grad` must have the updates' structure (`STRUCTURE_MISMATCH`, `SHAPE_MISMATCH`).
 *
 * @example
 * ```ts
 * import { chain, reduceOnPlateau, sgd, type ExtraArgs } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3]
 * const opt = chain(sgd(0.1), reduceOnPlateau({ patience: 2 }));
 * const params = Float64Array.of(1, 2, 3);
 * const extra: ExtraArgs = { value: params.reduce((s, x) => s + x * x, 0) }; // the loss, 14
 * const [updates] = opt.update(params.map((x) => 2 * x), opt.init(params), params, extra);
 * Array.from(updates as Float64Array); // [-0.2, -0.4, -0.6000000000000001]
 * ```
 * @since 0.3.0
 */
export interface ExtraArgs {
  /** The loss at `params` (reduceOnPlateau reads it). */
  readonly value?: number;
  /** A gradient at `params`, a tree like the updates. */
  readonly grad?: PyTree;
  /** The loss as a function of the params. */
  readonly valueFn?: (params: PyTree) => number;
  /** The gradient of the loss as a function of the params. */
  readonly gradFn?: (params: PyTree) => PyTree;
}

/** The fields of {@link ExtraArgs}. @since 0.3.0 */
export type ExtraArgName = keyof ExtraArgs;

/** {@link ExtraArgs} with the fields `Needs` required. @since 0.3.0 */
export type ExtraArgsWith<Needs extends ExtraArgName> = ExtraArgs & {
  readonly [K in Needs]-?: NonNullable<ExtraArgs[K]>;
};

/**
 * An optimizer, or a piece of one: a pure pair of functions over pytrees, as in optax.
 *
 * - `init(params)` returns the initial state (plain data: objects, arrays, numbers, typed arrays).
 * - `update(updates, state, params?, extra?)` returns the transformed updates and the next
 *   state. It never mutates its arguments. `extra` ({@link ExtraArgs}) carries the loss and the
 *   like, for the transformations that read them.
 *
 * Sign convention as optax: gradients go in, and what comes out of a whole optimizer is added
 * to the params by {@link applyUpdates} (`scaleByLearningRate` does the negation).
 *
 * `S` is the state's type: each optimizer has its own (`adam(lr)` is a
 * `GradientTransformation<[ScaleByAdamState, EmptyState | ScaleByScheduleState]>`). Callers
 * pass trees of their own types, interfaces included ({@link AsPyTree} checks them); an
 * implementation may declare its parameters as plain `PyTree`.
 *
 * @example
 * ```ts
 * import { adam, applyUpdates } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3]
 * const opt = adam(0.1);
 * let params = Float64Array.of(1, 2, 3);
 * let state = opt.init(params);
 * for (let step = 0; step < 5; step++) {
 *   const grads = params.map((x) => 2 * x);
 *   const [updates, next] = opt.update(grads, state, params);
 *   params = applyUpdates(params, updates); // a Float64Array, as params is
 *   state = next;
 * }
 * ```
 * @since 0.1.0
 */
export interface GradientTransformation<S = unknown> {
  /** The initial state for `params`. */
  init<P>(params: PyTree | AsPyTree<P>): S;
  /**
   * Transforms `updates` given the current state (and `params`, and `extra`, where the
   * transformation reads them).
   */
  update<U, P>(
    updates: PyTree | AsPyTree<U>,
    state: S,
    params?: PyTree | AsPyTree<P>,
    extra?: ExtraArgs,
  ): readonly [PyTree, S];
}

/**
 * A transformation that needs the fields `Needs` of {@link ExtraArgs} at every step (optax's
 * `GradientTransformationExtraArgs`, with the need in the type): `update` without them is a type
 * error, and at run time `MISSING_EXTRA_ARG`. It is a {@link GradientTransformation}, so `chain`
 * and the combinators take it; what they build needs the same fields in its type ({@link chain},
 * {@link lookahead} and every combinator say so in theirs).
 *
 * @example
 * ```ts
 * import { reduceOnPlateau, type GradientTransformationExtraArgs, type ReduceOnPlateauState } from "gradtx";
 * const tx: GradientTransformationExtraArgs<ReduceOnPlateauState, "value"> = reduceOnPlateau();
 * const g = Float64Array.of(1);
 * const [u] = tx.update(g, tx.init(g), undefined, { value: 1 }); // u = [1]: the scale starts at 1
 * ```
 * @since 0.3.0
 */
export interface GradientTransformationExtraArgs<
  S = unknown,
  Needs extends ExtraArgName = never,
> extends GradientTransformation<S> {
  /** Transforms `updates` given the current state, the params (where read) and `extra`, which must hold `Needs`. */
  update<U, P>(
    updates: PyTree | AsPyTree<U>,
    state: S,
    params: PyTree | AsPyTree<P> | undefined,
    extra: ExtraArgsWith<Needs>,
  ): readonly [PyTree, S];
}

/**
 * The fields of {@link ExtraArgs} a transformation's type says it needs: `"value"` for
 * `reduceOnPlateau()`, `never` for one that needs none.
 *
 * @since 0.3.0
 */
export type ExtraArgsNeeded<T> = T extends {
  /** The transformation's update, whose fourth parameter says what it needs. */
  update(updates: never, state: never, params: never, extra: infer E): unknown;
}
  ? RequiredExtraArgs<NonNullable<E>>
  : never;

/** The fields an `extra` type `E` requires: `"value"` for `ExtraArgsWith<"value">`. @since 0.3.0 */
export type RequiredExtraArgs<E> = { [K in keyof E]-?: object extends Pick<E, K> ? never : K }[keyof E] & ExtraArgName;

/** The state type of a transformation type. @since 0.3.0 */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;

/**
 * `GradientTransformation<S>`, or, when `Needs` is not `never`, the
 * {@link GradientTransformationExtraArgs} that needs them: what a combinator returns.
 *
 * @since 0.3.0
 */
export type WithExtraArgs<S, Needs extends ExtraArgName> = [Needs] extends [never]
  ? GradientTransformation<S>
  : GradientTransformationExtraArgs<S, Needs>;

/** The state of a transformation that keeps none. @since 0.1.0 */
export type EmptyState = Readonly<Record<string, never>>;

/**
 * The state of a gradtx transformation that keeps no optimizer state (where optax has
 * `EmptyState`): only a record of the params' shapes, made at `init`, that every update is
 * checked against, so that a stateless step refuses grads of another structure or shape as the
 * others do. The record is a tree like the params whose leaves hold each leaf's dimensions.
 *
 * @since 0.3.0
 */
export interface ShapesState {
  /** Each leaf's dimensions (a typed array's are `[length]`), in the params' structure. */
  readonly shapes: PyTree;
}

/** The one shared empty state (states are immutable, so sharing is safe). */
export const EMPTY_STATE: EmptyState = Object.freeze({});

/** `init` of a stateless transformation: checks that `params` is a pytree (bad leaves are rejected at init) and keeps nothing. */
export function initEmpty(params: PyTree): EmptyState {
  flatten(params);
  return EMPTY_STATE;
}
