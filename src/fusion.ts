/**
 * The hidden capability a hand-written transformation uses to take an input rescaling (a clip
 * before it) and an output factor (a learning rate after it) into its own loop:
 * {@link FUSED_UPDATE}, a method keyed by a symbol. Transformations declared as kernels do not
 * need it: the executor fuses them (see src/kernels/fuse.ts).
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

/** Key of `(updates, state, params, input, factor) => [factor * update(input(updates)), state]`. */
export const FUSED_UPDATE: unique symbol = Symbol("gradtx.fusedUpdate");

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

/** The hidden capability of a transformation, where it has it. */
export function capabilities(tx: object): Partial<FusedUpdate<unknown>> {
  return tx as Partial<FusedUpdate<unknown>>;
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

/** Returns `tx` as a plain transformation: its fusion capability stays hidden from its public type. */
export function withFusion<S>(tx: GradientTransformation<S> & Partial<FusedUpdate<S>>): GradientTransformation<S> {
  return tx;
}
