/**
 * How `chain` fuses neighbouring transformations into one loop per leaf, with the same numbers.
 *
 * `chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(lr))` would write the clipped
 * gradient to a fresh array, read it to write Adam's update, and read that to multiply by
 * `-lr`. Three capabilities, each a hidden method keyed by a symbol, let it run as one norm pass
 * and one elementwise pass:
 *
 * - {@link INPUT_SCALE}: a transformation that only rescales its input as `(u / divisor) *
 *   multiplier` (the clip) hands the two numbers over instead of writing the result;
 * - {@link STEP_FACTOR}: a transformation that only multiplies by a factor (the learning rate)
 *   hands the factor over;
 * - {@link FUSED_UPDATE}: a transformation whose work is one loop per leaf (Adam, momentum) takes
 *   both into that loop.
 *
 * Bit for bit the same as unfused: the fused loop rounds to the dtype an intermediate array
 * would have had at each point where the unfused chain would have stored one.
 *
 * @module
 */
import type { GradientTransformation } from "./base.js";
import { flatten, type PyTree } from "./pytree.js";
import { mapLeaves } from "./transforms/elementwise.js";

/** An input rescaling `x -> (x / divisor) * multiplier`, rounded to the input's dtype. */
export interface InputScale {
  readonly divisor: number;
  readonly multiplier: number;
}

/** Key of `(updates, state) => [scale or null when the input passes unchanged, nextState]`. */
export const INPUT_SCALE: unique symbol = Symbol("gradtx.inputScale");
/** Key of `(state) => [factor, nextState]` on a transformation that only multiplies by a factor. */
export const STEP_FACTOR: unique symbol = Symbol("gradtx.stepFactor");
/** Key of `(updates, state, params, input, factor) => [factor * update(input(updates)), state]`. */
export const FUSED_UPDATE: unique symbol = Symbol("gradtx.fusedUpdate");

/** A transformation that is an input rescaling. */
export interface InputScaling<S> {
  readonly [INPUT_SCALE]: (updates: PyTree, state: S) => readonly [InputScale | null, S];
}

/** A transformation that is a multiplication by a factor (which may depend on its state). */
export interface StepFactor<S> {
  readonly [STEP_FACTOR]: (state: S) => readonly [number, S];
}

/** A transformation that can take an input rescaling and an output factor into its own loop. */
export interface FusedUpdate<S> {
  readonly [FUSED_UPDATE]: (
    updates: PyTree,
    state: S,
    params: PyTree | undefined,
    input: InputScale | null,
    factor: number,
  ) => readonly [PyTree, S];
}

/** The hidden capabilities of a transformation, where it has them. */
export function capabilities(tx: object): Partial<InputScaling<unknown> & StepFactor<unknown> & FusedUpdate<unknown>> {
  return tx as Partial<InputScaling<unknown> & StepFactor<unknown> & FusedUpdate<unknown>>;
}

/** `(u / divisor) * multiplier`, leafwise, in the updates' dtypes: what an unfused clip writes. */
export function applyInputScale(updates: PyTree, input: InputScale): PyTree {
  const { divisor, multiplier } = input;
  return mapLeaves(flatten(updates), (g, o) => {
    for (let j = 0; j < g.length; j++) o[j] = (g[j]! / divisor) * multiplier;
  });
}

/** `factor * updates`, leafwise, in the updates' dtypes. */
export function multiply(updates: PyTree, factor: number): PyTree {
  return mapLeaves(flatten(updates), (g, o) => {
    for (let j = 0; j < g.length; j++) o[j] = factor * g[j]!;
  });
}

/** Returns `tx` as a plain transformation: its fusion capabilities stay hidden from its public type. */
export function withFusion<S>(
  tx: GradientTransformation<S> & Partial<InputScaling<S> & StepFactor<S> & FusedUpdate<S>>,
): GradientTransformation<S> {
  return tx;
}
