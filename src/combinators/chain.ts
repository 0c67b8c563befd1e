/**
 * Composing transformations.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, ShapesState, StateOf, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { checkTransformation } from "../core/validate.js";
import { elementwise, nodeOf, Transformation } from "../kernels/executor.js";
import { declare } from "../kernels/kernel.js";
import { childrenOf, type Node } from "../kernels/node.js";

/**
 * Applies transformations in sequence: the updates of one are the input of the next. The state
 * is the array of the parts' states, in order.
 *
 * `chain` is associative on update trajectories and {@link identity} is its unit, so
 * transformations form a monoid under it (see `monoidTransformation`). Neighbouring elementwise
 * parts run fused, one loop per leaf (a reduction such as a global norm splits the loop), with
 * the same bits as running them one by one.
 *
 * A {@link lookahead} (or a part holding one) must come last: its update lands the params on
 * the slow weights at a sync, and a part after it would move them off again. `chain` refuses
 * it elsewhere with `INVALID_HYPERPARAMETER`, naming the position (parts that leave every
 * update as it is, such as {@link identity}, may follow it).
 *
 * ```
 * u_0 = g;  u_i, s_i' = tx_i.update(u_{i-1}, s_i, params, extra);  result u_n
 * ```
 *
 * Every part gets the `extra` arguments as the caller gave them; the chain's type needs the
 * fields any part's type needs (`chain(adam(1e-3), reduceOnPlateau())` needs `{ value }`).
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, adam } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(adam(1e-3)));
 * const state = opt.init({ w: new Float32Array(10) }); // state.length = 2: the clip's state, then Lookahead's
 * ```
 * @since 0.1.0
 */
export function chain<const T extends readonly GradientTransformation<unknown>[]>(
  ...transforms: T
): WithExtraArgs<{ -readonly [K in keyof T]: StateOf<T[K]> }, ExtraArgsNeeded<T[number]>> {
  return chainOf("chain", transforms, undefined) as never;
}

/** The chain node of `transforms` (state keyed by `names` when given), checked as `chain` documents. */
function chainOf(
  where: string,
  transforms: readonly unknown[],
  names: readonly string[] | undefined,
): Transformation<unknown> {
  transforms.forEach((tx, i) => checkTransformation(`${where}: argument ${i}`, tx));
  const parts = (transforms as readonly GradientTransformation<unknown>[]).map(nodeOf);
  // Lookahead's update lands the params on its slow weights at a sync; a later part would move
  // them off again, so that the params and slowParams would differ.
  parts.forEach((part, i) => {
    if (holdsLookahead(part) && !parts.slice(i + 1).every(leavesAsIs))
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `${where}: argument ${i} is (or holds) a lookahead, which must be the last part of a chain: a part after it would move the params off the slow weights at every sync (put it before the lookahead, or inside it)`,
      );
  });
  return new Transformation({ kind: "chain", parts, names });
}

/**
 * {@link chain} with a name for each part, as optax's `named_chain`: the state is a record of
 * name -> that part's state (in the order given), so `state.clip` reads the part named `clip`.
 * The updates are `chain`'s, bit for bit: it is the same fused node, with the states keyed by
 * name instead of by position. Names must be distinct strings (`INVALID_HYPERPARAMETER`
 * otherwise); a state without one of them is `BAD_STATE`, naming it.
 *
 * ```
 * u_0 = g;  u_i, state'[name_i] = tx_i.update(u_{i-1}, state[name_i], params, extra);  result u_n
 * ```
 *
 * The type needs the `extra` fields any part's type needs, as `chain`'s.
 *
 * @param pairs `[name, transformation]` pairs, applied in order.
 * @example
 * ```ts
 * import { clipByGlobalNorm, namedChain, scale } from "gradtx";
 * const tx = namedChain(["clip", clipByGlobalNorm(1)], ["half", scale(0.5)]);
 * const g = Float64Array.of(3, 4);
 * const [u, state] = tx.update(g, tx.init(g));
 * Object.keys(state); // ["clip", "half"]
 * u; // Float64Array.of(0.3, 0.4): clipped to norm 1 ([0.6, 0.8]), then halved
 * ```
 * @since 0.3.0
 */
export function namedChain<const T extends readonly (readonly [string, GradientTransformation<unknown>])[]>(
  ...pairs: T
): WithExtraArgs<{ -readonly [P in T[number] as P[0]]: StateOf<P[1]> }, ExtraArgsNeeded<T[number][1]>> {
  const where = "namedChain";
  const names: string[] = [];
  const transforms: unknown[] = [];
  pairs.forEach((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string")
      throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: argument ${i} must be a [name, transformation] pair`);
    const [name, tx] = pair as [string, unknown];
    if (names.includes(name))
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `${where}: names must be distinct, but ${JSON.stringify(name)} is given twice (names: ${[...names, name].join(", ")})`,
      );
    names.push(name);
    transforms.push(tx);
  });
  return chainOf(where, transforms, names) as never;
}

const holdsLookahead = (node: Node): boolean => node.kind === "lookahead" || childrenOf(node).some(holdsLookahead);

/** Whether a part leaves every update as it is, whatever the step: {@link identity}, `scale(1)`, chains of them. */
const leavesAsIs = (node: Node): boolean =>
  node.kind === "chain"
    ? node.parts.every(leavesAsIs)
    : node.kind === "kernel" &&
      node.kernel.slotNames.length === 0 &&
      node.kernel.spec.identity?.(node.kernel.spec.hyper as never) === true;

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
export function identity(): GradientTransformation<ShapesState> {
  return elementwise<ShapesState>(
    declare({ name: "identity", identity: () => true, body: ({ x }) => ({ update: x }) }),
  );
}
