/**
 * Accumulating updates and applying them every k steps: `applyEvery`.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber } from "../core/validate.js";
import { elementwise } from "../kernels/executor.js";
import { add, constant, eq, select } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

/** The state of {@link applyEvery} (optax's `ApplyEvery`, camelCased). @since 0.3.0 */
export interface ApplyEveryState {
  /** Steps taken (optax keeps this modulo `k`; the step's place in its round is `count % k` in both). */
  readonly count: number;
  /** The sum of this round's updates, a tree like the params (optax's `grad_acc`). */
  readonly gradAcc: PyTree;
}

/**
 * Sums the updates of `k` steps and emits the sum every `k`-th step, zeros on the others, as
 * optax's `apply_every`. Unlike {@link multiSteps} it is an ordinary part of a chain: the parts
 * after it still run (and move their state) at every step, on the zeros, so a momentum before it
 * sees every gradient and one after it sees the zeros. It is one elementwise kernel: it fuses
 * with its neighbours and compiles.
 *
 * ```
 * c = count % k
 * gradAcc' = c != 0 ? gradAcc + u : u          (a new round starts from u)
 * u'       = c == k - 1 ? gradAcc' : 0
 * ```
 *
 * Where gradtx must differ: optax multiplies by the two flags (`(c != 0) * gradAcc + u`), gradtx
 * selects. The numbers are the same for finite updates, but in optax a NaN or an infinity of one
 * round survives into the next and into the zeros between (`0 * NaN` is NaN), and a `-0` update
 * becomes `+0`; here a round starts afresh and `applyEvery(1)` is the identity, bit for bit.
 *
 * @param k How many steps to sum, an integer >= 1 (optax's default 1 passes every update on).
 * @example
 * ```ts
 * import { applyEvery } from "gradtx";
 * const tx = applyEvery(3);
 * let state = tx.init(Float64Array.of(0));
 * const out: number[] = [];
 * for (const g of [1, 2, 4, 8]) {
 *   const [u, next] = tx.update(Float64Array.of(g), state);
 *   out.push((u as Float64Array)[0]!);
 *   state = next;
 * }
 * out; // [0, 0, 7, 0]: 1 + 2 + 4 at the third step, then a new round from 8
 * state.count; // 4
 * ```
 * @since 0.3.0
 */
export function applyEvery(k = 1): GradientTransformation<ApplyEveryState> {
  checkNumber("applyEvery", "k", k, { min: 1, integer: true });
  return elementwise<ApplyEveryState>(
    declare({
      name: "applyEvery",
      slots: { gradAcc: 0 },
      counted: true,
      hyper: { k },
      scalars: (h, count) => {
        const c = count % h.k;
        return { keep: c === 0 ? 0 : 1, emit: c === h.k - 1 ? 1 : 0 };
      },
      body: ({ x, gradAcc }, s) => {
        const acc = select(eq(s.keep, 1), add(gradAcc, x), x);
        return { update: select(eq(s.emit, 1), acc, constant(0)), gradAcc: acc };
      },
    }),
  );
}
