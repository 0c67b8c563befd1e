/**
 * What transformations share to read and build their states: aligning state trees and params
 * with the incoming updates, step counters, and fresh zero trees.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import { checkNotSpent } from "./donate.js";
import {
  asLeafLike,
  assertSameStructure,
  assertShapes,
  ctorOf,
  dataOf,
  flatOf,
  flatten,
  isFloatArray,
  unflatten,
  type Flat,
  type Leaf,
  type TreeDef,
  type FloatArray,
  sizeOf,
  type PyTree,
} from "./pytree.js";

/**
 * Reads a state's object record, or throws `BAD_STATE` naming what was expected and what was
 * found, with the path of the record inside the whole state (`at`, e.g. `[1].inner`).
 */
export function stateRecord<T extends object>(
  where: string,
  state: unknown,
  keys: readonly (keyof T & string)[],
  at = "",
): T {
  checkNotSpent(where, state);
  const path = at === "" ? undefined : at;
  if (typeof state !== "object" || state === null || Array.isArray(state))
    throw new GradTxError(
      "BAD_STATE",
      `${where}: expected a state object with ${keys.join(", ")}, got ${state === null ? "null" : Array.isArray(state) ? `an array of length ${state.length}` : typeof state}`,
      path,
    );
  for (const key of keys)
    if (!(key in state))
      throw new GradTxError(
        "BAD_STATE",
        `${where}: state has no "${key}" (is it the state of another transformation?): expected keys [${[...keys].sort().join(",")}], found [${Object.keys(state).sort().join(",")}]`,
        path,
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
 * A state tree, flattened and checked against the updates it must match. A state tree that is
 * not a pytree is `BAD_STATE`; one of another structure is a mismatch.
 */
export function stateTree(where: string, tree: unknown, updates: Flat): Flat {
  const flat = builtFlat(tree) ?? flattenState(where, tree);
  assertSameStructure(flat, updates);
  return flat;
}

/**
 * The flat forms of the state trees the executor built, by tree: a memo of values that cannot
 * change, since {@link frozenTree} freezes those trees (a state is immutable). Weak: a state no
 * one holds any more is not kept alive by it.
 */
const builtFlats = new WeakMap<object, Flat>();

/** The flat form of a tree {@link frozenTree} built, if it is one. */
function builtFlat(tree: unknown): Flat | undefined {
  return typeof tree === "object" && tree !== null ? builtFlats.get(tree) : undefined;
}

/** Freezes what `def` says is a container of `tree` (and its ndarray leaves), all the way down. */
function freeze(def: TreeDef, tree: unknown): void {
  if (def.kind === "none") return;
  if (def.kind === "leaf") {
    if (!isFloatArray(tree)) {
      const nd = tree as { shape: number[]; stride: number[] };
      Object.freeze(nd.shape);
      Object.freeze(nd.stride);
      Object.freeze(nd);
    }
    return;
  }
  const children = def.children;
  const at = def.kind === "object" ? def.keys : undefined;
  for (let i = 0; i < children.length; i++)
    freeze(children[i]!, (tree as Record<string, unknown>)[at === undefined ? i : at[i]!]);
  Object.freeze(tree);
}

/**
 * A state tree of structure `def` over `leaves`, frozen (its containers and ndarray leaves; the
 * typed arrays stay writable, as the executor writes them in place when a state is donated), and
 * remembered with its flat form, so that the next step's {@link stateTree} need not walk it.
 */
export function frozenTree(def: TreeDef, leaves: readonly Leaf[]): PyTree {
  const tree = unflatten(def, leaves);
  freeze(def, tree);
  if (typeof tree === "object" && tree !== null) builtFlats.set(tree, flatOf(def, leaves));
  return tree;
}

/**
 * The next state tree over `arrays`, of `like`'s structure and leaf kinds, frozen (see
 * {@link frozenTree}): `current` itself when it is the tree `like` came from and holds these very
 * arrays (a kernel that wrote in place).
 */
export function nextStateTree(like: Flat, arrays: readonly FloatArray[], current: unknown): PyTree {
  if (builtFlat(current) === like && sameData(like.leaves, arrays)) return current as PyTree;
  return frozenTree(
    like.def,
    like.leaves.map((leaf, i) => asLeafLike(leaf, arrays[i]!)),
  );
}

/** A tree held in a state, flattened: one that is not a pytree is `BAD_STATE`. */
/** Whether each leaf's data is the array at its index (a typed array leaf is its own data). */
function sameData(leaves: readonly Leaf[], arrays: readonly FloatArray[]): boolean {
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    if (leaf !== arrays[i] && dataOf(leaf) !== arrays[i]) return false;
  }
  return true;
}

function flattenState(where: string, tree: unknown): Flat {
  try {
    return flatten(tree);
  } catch (e) {
    if (e instanceof GradTxError)
      throw new GradTxError("BAD_STATE", `${where}: the state holds something that is not a pytree (${e.message})`);
    throw e;
  }
}

/** The leaves of a state tree as dense arrays, checked as {@link stateTree} does. */
export function stateLeaves(where: string, tree: unknown, updates: Flat): FloatArray[] {
  return stateTree(where, tree, updates).leaves.map(dataOf);
}

/**
 * A state's record of the params' shapes (see {@link shapesOf}), checked against the updates:
 * what a transformation that keeps no tree like the params checks them with.
 */
export function checkShapes(where: string, record: unknown, updates: Flat): void {
  assertShapes(builtFlat(record) ?? flattenState(where, record), updates, where);
}

/**
 * A shapes record checked by {@link checkShapes}, to carry into the next state: the record
 * itself when the executor built it, else a frozen one over the same leaves (a record a
 * checkpoint or `compile` copied), which the steps after this one need not walk.
 */
export function keptShapes(record: unknown): unknown {
  if (builtFlat(record) !== undefined) return record;
  const flat = flatten(record);
  return frozenTree(flat.def, flat.leaves);
}

/** A tree of `like`'s structure and leaf kinds (ndarrays of its shapes) over `arrays`. */
export function treeLike(like: Flat, arrays: readonly FloatArray[]): PyTree {
  return unflatten(
    like.def,
    like.leaves.map((leaf, i) => asLeafLike(leaf, arrays[i]!)),
  );
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

/** A tree of zeros like `params`: their structure, dtypes and shapes (an ndarray leaf gives a dense ndarray). */
export function zerosTree(params: Flat): PyTree {
  return treeLike(
    params,
    params.leaves.map((leaf) => new (ctorOf(leaf))(sizeOf(leaf))),
  );
}

/** A copy of `params`, with their structure, dtypes and shapes, sharing nothing with them. */
export function copyTree(params: Flat): PyTree {
  return treeLike(
    params,
    params.leaves.map((leaf) => new (ctorOf(leaf))(dataOf(leaf))),
  );
}
