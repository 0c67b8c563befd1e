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
 * An optimizer, or a piece of one: a pure pair of functions over pytrees, as in optax.
 *
 * - `init(params)` returns the initial state (plain data: objects, arrays, numbers, typed arrays).
 * - `update(updates, state, params?)` returns the transformed updates and the next state. It
 *   never mutates its arguments.
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
  /** Transforms `updates` given the current state (and `params`, where the transformation reads them). */
  update<U, P>(updates: PyTree | AsPyTree<U>, state: S, params?: PyTree | AsPyTree<P>): readonly [PyTree, S];
}

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
