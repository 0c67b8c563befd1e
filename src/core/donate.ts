/**
 * Donation: handing a state (or params) to the next call so that its buffers are reused.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import { EMPTY_STATE } from "./base.js";
import type { FloatArray } from "./pytree.js";

/*
 * All of donation's bookkeeping lives here. It is kept beside the objects, in weak collections,
 * rather than on them: a state is plain data that the caller may freeze, clone or serialize, so a
 * mark must not change it, and it must not keep a state alive once the caller drops it.
 */

/** Objects donated and not yet taken. */
const donated = new WeakSet<object>();
/** Objects whose buffers were taken by a call: using them again is an error. */
const consumed = new WeakSet<object>();
/**
 * For each state the executor returned, the arrays of the updates returned with it: donating the
 * state gives those up too, and the next call may write its updates into them.
 */
const updatesWith = new WeakMap<object, readonly FloatArray[]>();
/**
 * State trees that more than one state holds (the slow weights between syncs, an inner state a
 * skipped step or a mini-step carries over): a donated call must not write into them.
 */
const shared = new WeakSet<object>();

/** Records the arrays of the updates returned with `state`. */
export function rememberUpdates(state: unknown, updates: readonly FloatArray[]): void {
  if (typeof state === "object" && state !== null) updatesWith.set(state, updates);
}

/** The arrays of the updates returned with `state`, if the executor returned it. */
export function updatesOf(state: unknown): readonly FloatArray[] | undefined {
  return typeof state === "object" && state !== null ? updatesWith.get(state) : undefined;
}

/** Marks `tree` as held by more than one state (a tree without leaves may be `null`: nothing to mark). */
export function share(tree: unknown): void {
  if (typeof tree === "object" && tree !== null) shared.add(tree);
}

/** Whether `tree` is held by more than one state. */
export function isShared(tree: unknown): boolean {
  return typeof tree === "object" && tree !== null && shared.has(tree);
}

/**
 * Donates a state (to `update`) or params (to {@link applyUpdates}): the call may write its
 * results into the donated buffers instead of fresh ones, so that a training loop that never
 * looks back allocates no arrays per step. Same numbers, bit for bit, as without donation.
 *
 * After the call the donated object is spent: a gradtx function that reads it throws `BAD_STATE`,
 * and its arrays (and those of the updates that came with it) hold the new values or scratch. Keep
 * what you need (e.g. `structuredClone(state)` or `serializeState(state)`) before donating it.
 *
 * Reused by every part of a transformation that the executor runs as kernels (the optimizers'
 * state arrays, Lookahead's slow weights), through `chain`, `lookahead`, `masked`,
 * `multiTransform`, `injectHyperparams` and `multiSteps`, and by {@link applyUpdates} for
 * typed-array and contiguous ndarray leaves. Not reused: the inner state under Lookahead's
 * `innerState: "interpolate"` (the state of the last sync may share it), under `applyIfFinite`
 * on a step it may skip (it keeps the old one), and anything that runs as an opaque barrier (a
 * user's own `{ init, update }`), which allocates as usual.
 *
 * ```
 * [u, s'] = tx.update(g, donate(s), p)   // s is spent; s' may share its buffers
 * p' = applyUpdates(donate(p), u)        // p is spent; p' = p + u in p's buffers
 * ```
 *
 * @example
 * ```ts
 * import { adam, applyUpdates, chain, clipByGlobalNorm, donate, lookahead } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1)));
 * let params = { w: Float32Array.of(1, 2, 3) };
 * let state = opt.init(params);
 * for (let step = 0; step < 10; step++) {
 *   const grads = { w: params.w.map((x) => 2 * x) };
 *   const [updates, next] = opt.update(grads, donate(state), params);
 *   params = applyUpdates(donate(params), updates);
 *   state = next;
 * }
 * ```
 * @since 0.2.0
 */
export function donate<T>(value: T): T {
  if (typeof value === "object" && value !== null && value !== EMPTY_STATE) {
    if (consumed.has(value)) throw spent("donate");
    donated.add(value);
  }
  return value;
}

function spent(where: string): GradTxError {
  return new GradTxError(
    "BAD_STATE",
    `${where}: this value was donated to an earlier call and its buffers now belong to that call's result; use the result`,
  );
}

/** Throws `BAD_STATE` if `value` was donated and taken. */
export function checkNotSpent(where: string, value: unknown): void {
  if (typeof value === "object" && value !== null && consumed.has(value)) throw spent(where);
}

/**
 * Takes a donation: `true` if `value` was donated (it is now spent, and the caller may write into
 * its buffers), `false` otherwise. Throws `BAD_STATE` if it was already spent.
 */
export function claim(where: string, value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (consumed.has(value)) throw spent(where);
  if (!donated.has(value)) return false;
  donated.delete(value);
  consumed.add(value);
  return true;
}

/** Un-spends `value`: it is the result of the call it was donated to (a tree that is one leaf). */
export function release(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  consumed.delete(value);
}
