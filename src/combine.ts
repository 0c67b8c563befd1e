/**
 * Composing transformations.
 *
 * @module
 */
import type { GradientTransformation } from "./base.js";
import { GradTxError } from "./errors.js";
import type { PyTree } from "./pytree.js";

/**
 * Applies transformations in sequence: the updates of one are the input of the next. The state
 * is the array of the parts' states, in order.
 *
 * `chain` is associative on update trajectories and {@link identity} is its unit, so
 * transformations form a monoid under it (see `monoidTransformation`).
 *
 * ```
 * u_0 = g;  u_i, s_i' = tx_i.update(u_{i-1}, s_i, params);  result u_n
 * ```
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, adam } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(adam(1e-3)));
 * const state = opt.init({ w: new Float32Array(10) }); // [clip state, lookahead state]
 * ```
 * @since 0.1.0
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { readonly [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  transforms.forEach((tx, i) => {
    if (typeof tx !== "object" || tx === null || typeof tx.init !== "function" || typeof tx.update !== "function")
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `chain: argument ${i} must be a GradientTransformation ({ init, update })`,
      );
  });
  const parts = transforms as readonly GradientTransformation<unknown>[];
  return {
    init: (params) => parts.map((tx) => tx.init(params)) as unknown as S,
    update(updates, state, params) {
      if (!Array.isArray(state) || state.length !== parts.length)
        throw new GradTxError(
          "BAD_STATE",
          `chain: expected an array of ${parts.length} states, got ${Array.isArray(state) ? `an array of ${state.length}` : typeof state}`,
        );
      let u: PyTree = updates;
      const next = new Array<unknown>(parts.length);
      for (let i = 0; i < parts.length; i++) {
        const [ui, si] = parts[i]!.update(u, state[i], params);
        u = ui;
        next[i] = si;
      }
      return [u, next as unknown as S];
    },
  };
}
