/**
 * Composing transformations.
 *
 * @module
 */
import type { GradientTransformation } from "./base.js";
import { GradTxError } from "./errors.js";
import { checkTransformation } from "./validate.js";
import {
  applyInputScale,
  capabilities,
  FUSED_UPDATE,
  INPUT_SCALE,
  multiply,
  STEP_FACTOR,
  type InputScale,
} from "./fusion.js";
import type { PyTree } from "./pytree.js";
import { described } from "./compile/describe.js";
import { claim, donate } from "./donate.js";

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
 * const state = opt.init({ w: new Float32Array(10) }); // state.length = 2: the clip's state, then Lookahead's
 * ```
 * @since 0.1.0
 */
export function chain<S extends readonly unknown[]>(
  ...transforms: { readonly [K in keyof S]: GradientTransformation<S[K]> }
): GradientTransformation<S> {
  transforms.forEach((tx, i) => checkTransformation(`chain: argument ${i}`, tx));
  const parts = transforms as readonly GradientTransformation<unknown>[];
  const run = (updates: PyTree, state: S, params: PyTree | undefined, input: InputScale | null, factor: number) => {
    if (!Array.isArray(state) || state.length !== parts.length)
      throw new GradTxError(
        "BAD_STATE",
        `chain: expected an array of ${parts.length} states, got ${Array.isArray(state) ? `an array of ${state.length}` : typeof state}`,
      );
    // A donated chain state donates its parts' states to them.
    if (claim("chain", state)) state.forEach((part: unknown) => donate(part));
    return runParts(parts, updates, state, params, input, factor) as unknown as readonly [PyTree, S];
  };
  const fusable = parts.length > 0 && capabilities(parts[0]!)[FUSED_UPDATE] !== undefined;
  const tx: GradientTransformation<S> = {
    init: (params) => parts.map((part) => part.init(params)) as unknown as S,
    update: (updates, state, params) => run(updates, state, params, null, 1),
  };
  described(tx, { kind: "chain", parts });
  // A chain that starts with a loop can take an input scale into it, so it fuses in turn.
  return fusable ? Object.assign(tx, { [FUSED_UPDATE]: run }) : tx;
}

/**
 * Runs the parts in order, fusing where neighbours allow it (see fusion.ts): an input scaling
 * followed by a loop, and a loop followed by a factor, each become one pass. `input` and
 * `factor` are a scaling of the chain's own input and output, from an enclosing chain.
 */
function runParts(
  parts: readonly GradientTransformation<unknown>[],
  updates: PyTree,
  state: readonly unknown[],
  params: PyTree | undefined,
  input: InputScale | null,
  factor: number,
): readonly [PyTree, unknown[]] {
  const next = new Array<unknown>(parts.length);
  let u = updates;
  let pending = input;
  let outputFactor = factor;
  for (let i = 0; i < parts.length; i++) {
    const part = capabilities(parts[i]!);
    const following = i + 1 < parts.length ? capabilities(parts[i + 1]!) : undefined;
    if (pending === null && part[INPUT_SCALE] && following?.[FUSED_UPDATE]) {
      [pending, next[i]] = part[INPUT_SCALE](u, state[i]);
      continue;
    }
    const fused = part[FUSED_UPDATE];
    if (fused) {
      let f = 1;
      if (following?.[STEP_FACTOR]) {
        [f, next[i + 1]] = following[STEP_FACTOR](state[i + 1]);
        [u, next[i]] = fused(u, state[i], params, pending, f);
        i++;
      } else {
        if (i === parts.length - 1) [f, outputFactor] = [outputFactor, 1];
        [u, next[i]] = fused(u, state[i], params, pending, f);
      }
      pending = null;
      continue;
    }
    if (pending !== null) [u, pending] = [applyInputScale(u, pending), null];
    [u, next[i]] = parts[i]!.update(u, state[i], params);
  }
  if (pending !== null) u = applyInputScale(u, pending);
  if (outputFactor !== 1) u = multiply(u, outputFactor);
  return [u, next];
}
