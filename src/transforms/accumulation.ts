/**
 * Transformations that accumulate past updates: momentum.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type PyTree } from "../pytree.js";
import { stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkBoolean, checkNumber } from "../validate.js";

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
  options: { readonly nesterov?: boolean } = {},
): GradientTransformation<TraceState> {
  checkNumber("trace", "decay", decay, { min: 0 });
  const nesterov = checkBoolean("trace", "nesterov", options.nesterov ?? false);
  return {
    init: (params) => ({ trace: zerosTree(flatten(params)) }),
    update(updates, state) {
      const s = stateRecord<TraceState>("trace", state, ["trace"]);
      const g = flatten(updates);
      const traces = stateLeaves("trace.trace", s.trace, g);
      const n = g.leaves.length;
      const outs = new Array<PyTree>(n);
      const newTraces = new Array<PyTree>(n);
      for (let i = 0; i < n; i++) {
        const leaf = g.leaves[i]!;
        const gd = dataOf(leaf);
        const t = traces[i]!;
        const t2 = new (t instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
        // The update never shares a buffer with the state: a caller may write into its updates.
        const out = new (ctorOf(leaf))(gd.length);
        if (nesterov) {
          for (let j = 0; j < gd.length; j++) {
            t2[j] = gd[j]! + decay * t[j]!;
            out[j] = gd[j]! + decay * t2[j]!;
          }
        } else {
          for (let j = 0; j < gd.length; j++) {
            t2[j] = gd[j]! + decay * t[j]!;
            out[j] = t2[j]!;
          }
        }
        outs[i] = asLeafLike(leaf, out);
        newTraces[i] = t2;
      }
      return [unflatten(g.def, outs), { trace: unflatten(g.def, newTraces) }];
    },
  };
}
