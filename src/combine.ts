/**
 * Composing transformations.
 *
 * @module
 */
import type { EmptyState, GradientTransformation } from "./base.js";
import { checkTransformation } from "./validate.js";
import { elementwise, nodeOf, Transformation } from "./kernels/executor.js";
import { declare } from "./kernels/kernel.js";

/**
 * Applies transformations in sequence: the updates of one are the input of the next. The state
 * is the array of the parts' states, in order.
 *
 * `chain` is associative on update trajectories and {@link identity} is its unit, so
 * transformations form a monoid under it (see `monoidTransformation`). Neighbouring elementwise
 * parts run fused, one loop per leaf (a reduction such as a global norm splits the loop), with
 * the same bits as running them one by one.
 *
 * ```
 * u_0 = g;  u_i, s_i' = tx_i.update(u_{i-1}, s_i, params);  result u_n
 * ```
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, adam } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(adam(1e-3)));
 * const state = opt.init({ w: new Float32Array(10) }); // state.length = 2: the clip's state, then Lookahead's
 * ```
 * @since 0.1.0
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { readonly [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  transforms.forEach((tx, i) => checkTransformation(`chain: argument ${i}`, tx));
  const parts = transforms as readonly GradientTransformation<unknown>[];
  return new Transformation<S>({ kind: "chain", parts: parts.map(nodeOf) });
}

/**
 * The transformation that leaves updates as they are: the unit of {@link chain}.
 *
 * `u' = u`
 *
 * @example
 * ```ts
 * import { identity } from "gradtx";
 * const tx = identity();
 * const g = Float64Array.of(1, 2);
 * tx.update(g, tx.init(g))[0] === g; // true: the very same leaf
 * ```
 * @since 0.1.0
 */
export function identity(): GradientTransformation<EmptyState> {
  return elementwise<EmptyState>(declare({ name: "identity", identity: () => true, body: ({ x }) => ({ update: x }) }));
}
