/**
 * Donation: handing a state (or params) to the next call so that its buffers are reused.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import type { FloatArray, PyTree } from "./pytree.js";
import { EMPTY_STATE } from "./base.js";

/** Objects donated and not yet taken. */
const donated = new WeakSet<object>();
/** Objects whose buffers were taken by a call: using them again is an error. */
const consumed = new WeakSet<object>();

/**
 * Donates a state (to `update`) or params (to {@link applyUpdates}): the call may write its
 * results into the donated buffers instead of fresh ones, so that a training loop that never
 * looks back allocates no arrays per step. Same numbers, bit for bit, as without donation.
 *
 * After the call the donated object is spent: a gradtx function that reads it throws `BAD_STATE`,
 * and its arrays (and those of the updates that came with it) hold the new values or scratch. Keep
 * what you need (e.g. `structuredClone(state)` or `serializeState(state)`) before donating it.
 *
 * Reused by: `chain`, `lookahead` (`innerState` `"keep"` or `"reset"`), `scaleByAdam` (so
 * `adam`, `adamw`, `nadam`), `trace` (so `sgd` with momentum), and {@link applyUpdates} for
 * typed-array and contiguous ndarray leaves. Any other transformation allocates as usual.
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

/** Key of the scratch buffers a donated state carries for the next call's updates. */
const SCRATCH: unique symbol = Symbol("gradtx.scratch");

/** Attaches scratch buffers to a state record (not enumerable: not part of the state's value). */
export function withScratch<S extends object>(state: S, scratch: readonly PyTree[]): S {
  return Object.defineProperty(state, SCRATCH, { value: scratch, enumerable: false });
}

/**
 * Scratch buffer `i` of a state, if it has one of this type and length, else a fresh array.
 * Only called for a claimed state: its updates were given up with it.
 */
export function scratchOr(
  state: object,
  i: number,
  Ctor: Float32ArrayConstructor | Float64ArrayConstructor,
  length: number,
): FloatArray {
  const old = (state as { [SCRATCH]?: readonly PyTree[] })[SCRATCH]?.[i];
  return old instanceof Ctor && old.length === length ? old : new Ctor(length);
}

/** Carries `from`'s scratch buffers over to the new state record `to`. */
export function carryScratch<S extends object>(to: S, from: object): S {
  const scratch = (from as { [SCRATCH]?: readonly PyTree[] })[SCRATCH];
  return scratch === undefined ? to : withScratch(to, scratch);
}
