/**
 * Transformations that accumulate past updates: momentum and moving averages.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type FloatArray, type PyTree } from "../pytree.js";
import { biasCorrection, increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { mapLeavesWithState } from "./elementwise.js";
import { checkBoolean, checkNumber, readOptions } from "../validate.js";
import { FUSED_UPDATE, withFusion, type InputScale } from "../fusion.js";
import { described } from "../compile/describe.js";
import { claim, scratchOr, withScratch } from "../donate.js";

/** The state of {@link trace}. @since 0.1.0 */
export interface TraceState {
  /** The momentum buffer (params' dtype), zeros at init. */
  readonly trace: PyTree;
}

/**
 * Heavy-ball momentum, optionally Nesterov's (optax's `trace`; PyTorch's SGD momentum buffer
 * with dampening 0).
 *
 * ```
 * trace' = u + decay * trace
 * u'     = trace'                      (nesterov: u + decay * trace')
 * ```
 *
 * @param decay The momentum, a finite number >= 0 (optax does not bound it above; 0.9 is usual).
 * @example
 * ```ts
 * import { trace } from "gradtx";
 * const tx = trace(0.9);
 * const s0 = tx.init(Float64Array.of(0));
 * const [u1, s1] = tx.update(Float64Array.of(1), s0); // u1 = [1]
 * const [u2] = tx.update(Float64Array.of(1), s1); // u2 = [1.9]
 * ```
 * @since 0.1.0
 */
export function trace(
  decay: number,
  options: { readonly nesterov?: boolean } | null = {},
): GradientTransformation<TraceState> {
  options = readOptions("trace", options, ["nesterov"], {
    hint: "optax's trace(decay, nesterov) is trace(decay, { nesterov: true })",
  });
  checkNumber("trace", "decay", decay, { min: 0 });
  const nesterov = checkBoolean("trace", "nesterov", options.nesterov ?? false);
  const run = (
    updates: PyTree,
    state: TraceState,
    input: InputScale | null,
    factor: number,
  ): readonly [PyTree, TraceState] => {
    const s = stateRecord<TraceState>("trace", state, ["trace"]);
    // Donated: the trace is updated in place and the update goes into the last update's buffer.
    const reuse = claim("trace", state);
    const g = flatten(updates);
    const traces = stateLeaves("trace.trace", s.trace, g);
    const n = g.leaves.length;
    const outs = new Array<PyTree>(n);
    const newTraces = new Array<PyTree>(n);
    const scratch = new Array<FloatArray>(n);
    for (let i = 0; i < n; i++) {
      const leaf = g.leaves[i]!;
      const gd = dataOf(leaf);
      const t = traces[i]!;
      const t2 = reuse ? t : new (t instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
      // Never share the update's buffer with the state: a caller may write into its updates.
      const out = reuse ? scratchOr(s, i, ctorOf(leaf), gd.length) : new (ctorOf(leaf))(gd.length);
      const f32 = out instanceof Float32Array;
      const scaled = input !== null;
      const divisor = input?.divisor ?? 1;
      const multiplier = input?.multiplier ?? 1;
      for (let j = 0; j < gd.length; j++) {
        let x = gd[j]!;
        if (scaled) x = f32 ? Math.fround((x / divisor) * multiplier) : (x / divisor) * multiplier;
        t2[j] = x + decay * t[j]!;
        // The stored trace, as the update would read it back (rounded to the state's dtype).
        const u = nesterov ? x + decay * t2[j]! : t2[j]!;
        out[j] = factor * (f32 ? Math.fround(u) : u);
      }
      outs[i] = asLeafLike(leaf, out);
      newTraces[i] = t2;
      scratch[i] = out;
    }
    return [unflatten(g.def, outs), withScratch({ trace: unflatten(g.def, newTraces) }, scratch)];
  };
  const tx = withFusion<TraceState>({
    init: (params) => ({ trace: zerosTree(flatten(params)) }),
    update: (updates, state) => run(updates, state, null, 1),
    [FUSED_UPDATE]: (updates, state, _params, input, factor) => run(updates, state, input, factor),
  });
  return described(tx, { kind: "trace", decay, nesterov });
}

/** The state of {@link ema}. @since 0.1.0 */
export interface EmaState {
  /** Steps taken; the debiasing divides by `1 - decay^count`. */
  readonly count: number;
  /** The (biased) exponential moving average of the updates. */
  readonly ema: PyTree;
}

/**
 * An exponential moving average of the updates, debiased by default, as optax's `ema`.
 *
 * ```
 * ema' = (1 - decay) u + decay ema
 * u'   = ema' / (1 - decay^t)          (debias: false: u' = ema')
 * ```
 *
 * With `debias`, a constant input `c` gives `c` from the first step on.
 *
 * @param decay In [0, 1).
 * @example
 * ```ts
 * import { ema } from "gradtx";
 * const tx = ema(0.9);
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0))); // u = [2]: debiased
 * ```
 * @since 0.1.0
 */
export function ema(
  decay: number,
  options: { readonly debias?: boolean } | null = {},
): GradientTransformation<EmaState> {
  options = readOptions("ema", options, ["debias"], {
    hint: "optax's ema(decay, debias) is ema(decay, { debias: false })",
  });
  checkNumber("ema", "decay", decay, { min: 0, max: 1, maxExclusive: true });
  const debias = checkBoolean("ema", "debias", options.debias ?? true);
  return {
    init: (params) => ({ count: 0, ema: zerosTree(flatten(params)) }),
    update(updates, state) {
      const s = stateRecord<EmaState>("ema", state, ["count", "ema"]);
      const count = increment(stateCount("ema", s.count));
      const g = flatten(updates);
      const correction = debias ? biasCorrection(decay, count) : 1;
      const r = mapLeavesWithState(g, [stateLeaves("ema.ema", s.ema, g)], (x, [e], out, [e2]) => {
        for (let j = 0; j < x.length; j++) {
          e2![j] = (1 - decay) * x[j]! + decay * e![j]!;
          out[j] = e2![j]! / correction;
        }
      });
      return [r.updates, { count, ema: r.states[0] }];
    },
  };
}
