/**
 * Transformations that accumulate past updates: momentum and moving averages.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkBoolean, checkNumber, readOptions } from "../core/validate.js";
import { elementwise } from "../kernels/executor.js";
import { add, mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

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
  return elementwise<TraceState>(
    declare({
      name: "trace",
      slots: { trace: 0 },
      hyper: { decay },
      body: ({ x, trace }, s) => {
        const next = add(x, mul(s.decay, trace));
        return { update: nesterov ? add(x, mul(s.decay, next)) : next, trace: next };
      },
    }),
  );
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
  checkNumber("ema", "decay", decay, DECAY);
  const debias = checkBoolean("ema", "debias", options.debias ?? true);
  return elementwise<EmaState>(
    declare({
      name: "ema",
      slots: { ema: 0 },
      counted: true,
      hyper: { decay },
      // The count after this step's increment: optax's debiasing reads the new count.
      scalars: (h, count) => ({ a: 1 - h.decay, inverse: 1 / biasCorrection(h.decay, increment(count)) }),
      body: ({ x, ema }, s) => {
        const next = add(mul(s.a, x), mul(s.decay, ema));
        // Without debiasing the old loop divided by 1, which changes no bit: leave it out.
        return { update: debias ? mul(next, s.inverse) : next, ema: next };
      },
    }),
  );
}
