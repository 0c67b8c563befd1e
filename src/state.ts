/**
 * What transformations share to read and build their states: aligning state trees and params
 * with the incoming updates, step counters, and fresh zero trees.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import { checkNotSpent } from "./donate.js";
import {
  assertSameStructure,
  ctorOf,
  dataOf,
  flatten,
  unflatten,
  type Flat,
  type FloatArray,
  type PyTree,
} from "./pytree.js";

/** Reads a state's object record, or throws `BAD_STATE` naming what was expected. */
export function stateRecord<T extends object>(where: string, state: unknown, keys: readonly (keyof T & string)[]): T {
  checkNotSpent(where, state);
  if (typeof state !== "object" || state === null || Array.isArray(state))
    throw new GradTxError(
      "BAD_STATE",
      `${where}: expected a state object with ${keys.join(", ")}, got ${state === null ? "null" : typeof state}`,
    );
  for (const key of keys)
    if (!(key in state))
      throw new GradTxError(
        "BAD_STATE",
        `${where}: state has no "${key}" (is it the state of another transformation?)`,
      );
  return state as T;
}

/** Reads a step counter from a state: a non-negative integer, or `BAD_STATE`. */
export function stateCount(where: string, count: unknown): number {
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0)
    throw new GradTxError("BAD_STATE", `${where}: count must be a non-negative integer, got ${String(count)}`);
  return count;
}

/** `count + 1`, saturating at `Number.MAX_SAFE_INTEGER` as optax's `safe_increment` does. */
export function increment(count: number): number {
  return count < Number.MAX_SAFE_INTEGER ? count + 1 : count;
}

/**
 * Adam's bias correction `1 - decay^count`, computed as `-expm1(count * log(decay))`: the same
 * number in real arithmetic, without the cancellation that costs `1 - 0.999^2` fourteen bits.
 */
export function biasCorrection(decay: number, count: number): number {
  return -Math.expm1(count * Math.log(decay));
}

/**
 * The leaves of a state tree as dense arrays, checked against the updates it must match.
 * A state tree that is not a pytree is `BAD_STATE`; one of another structure is a mismatch.
 */
export function stateLeaves(where: string, tree: unknown, updates: Flat): FloatArray[] {
  let flat: Flat;
  try {
    flat = flatten(tree);
  } catch (e) {
    if (e instanceof GradTxError)
      throw new GradTxError("BAD_STATE", `${where}: the state holds something that is not a pytree (${e.message})`);
    throw e;
  }
  assertSameStructure(flat, updates);
  return flat.leaves.map(dataOf);
}

/** The params, flattened and checked against the updates; `MISSING_PARAMS` when absent. */
export function paramsFlat(where: string, params: PyTree | undefined, updates: Flat): Flat {
  if (params === undefined)
    throw new GradTxError("MISSING_PARAMS", `${where} reads the params: pass them as the third argument of update`);
  checkNotSpent(where, params);
  const flat = flatten(params);
  assertSameStructure(flat, updates);
  return flat;
}

/** A tree of zeros shaped like `params`, in the params' dtype, with plain typed-array leaves. */
export function zerosTree(params: Flat): PyTree {
  return unflatten(
    params.def,
    params.leaves.map((leaf) => new (ctorOf(leaf))(dataOf(leaf).length)),
  );
}

/** A copy of `params` with plain typed-array leaves of the same dtype (nothing shared with the input). */
export function copyTree(params: Flat): PyTree {
  return unflatten(
    params.def,
    params.leaves.map((leaf) => {
      const data = dataOf(leaf);
      return new (ctorOf(leaf))(data);
    }),
  );
}
