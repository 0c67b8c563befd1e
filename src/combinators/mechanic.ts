/**
 * Mechanic (Cutkosky, Defazio and Mehta, 2023), optax.contrib's `mechanize`: a learned scale for
 * any base optimizer's steps, from a handful of coin-betting accumulators with decays 0.9,
 * 0.99, .... A barrier around the base optimizer (its own kernels still fuse inside it): the
 * scale needs a sum over the whole tree of the gradient against the distance travelled, taken
 * before the last pass can run.
 *
 * @module
 */
import type { ExtraArgs, GradientTransformation } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { barrier } from "../kernels/executor.js";
import { asLeafLike, dataOf, flatten, unflatten, type FloatArray, type PyTree } from "../core/pytree.js";
import { copyTree, increment, paramsFlat, stateCount, stateRecord, stateTree } from "../core/state.js";
import { globalNormOf } from "../core/tree.js";
import { checkNumber, checkTransformation, readOptions } from "../core/validate.js";

/** The state of {@link mechanize}: optax's `MechanicState`. @since 0.3.0 */
export interface MechanicState<S = unknown> {
  /** The base optimizer's state. */
  readonly baseOptimizerState: S;
  /** Steps taken. */
  readonly count: number;
  /** Per decay: the discounted sum of the scale's rewards (`numBetas` numbers). */
  readonly r: readonly number[];
  /** Per decay: the discounted maximum of |h| (`numBetas` numbers). */
  readonly m: readonly number[];
  /** Per decay: the discounted sum of h^2 (`numBetas` numbers). */
  readonly v: readonly number[];
  /** Per decay: the scale; their sum multiplies the base optimizer's steps (`numBetas` numbers). */
  readonly s: readonly number[];
  /** The params at the first step, x0 (a tree like the params). */
  readonly x0: PyTree;
}

/** Options of {@link mechanize} (optax's names, camelCased). @since 0.3.0 */
export interface MechanizeOptions {
  /** Mechanic's own weight decay (not the base optimizer's), >= 0. Default 1e-2. */
  readonly weightDecay?: number;
  /** Keeps the divisions finite, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** The initial scale of each accumulator, > 0. Default 1e-6. */
  readonly sInit?: number;
  /** How many decays, `1 - 0.1^k` for k = 1 .. numBetas: an integer in [1, 16]. Default 6. */
  readonly numBetas?: number;
}

const where = "mechanize";

/** A state array of `n` numbers, or `BAD_STATE` naming it. */
function numbers(name: string, value: unknown, n: number): readonly number[] {
  if (!Array.isArray(value) || value.length !== n || !value.every((x) => typeof x === "number"))
    throw new GradTxError("BAD_STATE", `${where}: ${name} must be an array of ${n} numbers`);
  return value as number[];
}

/**
 * The sum of `(g + c p) (x0 - p) / (S + eps)` over one leaf, each product's factors in the
 * leaf's dtype (float32 when `f32`), the products summed in float64.
 */
function leafH(g: FloatArray, p: FloatArray, x0: FloatArray, c: number, divisor: number, f32: boolean): number {
  let sum = 0;
  if (f32) {
    const c32 = Math.fround(c);
    const d32 = Math.fround(divisor);
    for (let j = 0; j < g.length; j++)
      sum += Math.fround(g[j]! + Math.fround(c32 * p[j]!)) * Math.fround(Math.fround(x0[j]! - p[j]!) / d32);
  } else for (let j = 0; j < g.length; j++) sum += (g[j]! + c * p[j]!) * ((x0[j]! - p[j]!) / divisor);
  return sum;
}

/** One leaf's update: `x0 - S' ((x0 - p) / (S + eps) - u) - p`, into `out`, in the leaf's dtype. */
function leafUpdate(
  u: FloatArray,
  p: FloatArray,
  x0: FloatArray,
  scale: number,
  divisor: number,
  out: FloatArray,
  f32: boolean,
): void {
  if (f32) {
    const s32 = Math.fround(scale);
    const d32 = Math.fround(divisor);
    for (let j = 0; j < u.length; j++) {
      const delta = Math.fround(Math.fround(Math.fround(x0[j]! - p[j]!) / d32) - u[j]!);
      out[j] = Math.fround(x0[j]! - Math.fround(s32 * delta)) - p[j]!;
    }
  } else for (let j = 0; j < u.length; j++) out[j] = x0[j]! - scale * ((x0[j]! - p[j]!) / divisor - u[j]!) - p[j]!;
}

/**
 * Mechanic (Cutkosky, Defazio and Mehta, 2023, "Mechanic: A Learning Rate Tuner"), as
 * optax.contrib's `mechanize`: learns the scale of `baseOptimizer`'s steps. With `g` the
 * gradient, `u` the base optimizer's update, `x0` the params at the first step, `S = sum(s)` and
 * `beta_k = 1 - 0.1^k`:
 *
 * ```
 * g~    = g + weightDecay S ||g|| / (||p|| + eps) p
 * delta = (x0 - p) / (S + eps),   h = <g~, delta>
 * m_k = max(beta_k m_k, |h| + eps),   v_k = beta_k^2 v_k + h^2
 * r_k = beta_k r_k + clamp(h, -m_k, m_k) s_k           (the old m_k and s_k)
 * s_k = (sInit / numBetas m_k + max(0, r_k)) / (sqrt(v_k) + eps)
 * p'  = x0 - sum(s) (delta - u),   u' = p' - p
 * ```
 *
 * Use a base learning rate of 1 (or a schedule peaking at 1): Mechanic learns the rest. It is
 * plain TypeScript around the base optimizer, which runs its own fused passes inside; the scale's
 * numbers are float64 (optax keeps them in the params' lowest dtype), each leaf's arithmetic runs
 * in its dtype. The base optimizer gets `params` and `extra` as Mechanic does.
 *
 * @param baseOptimizer The optimizer whose steps Mechanic scales.
 * @example
 * ```ts
 * import { mechanize, sgd } from "gradtx";
 * const opt = mechanize(sgd(1));
 * const x = Float64Array.of(1, 2);
 * const [u, state] = opt.update(Float64Array.of(2, 4), opt.init(x), x);
 * // At the first step p = x0, so h = 0: every s_k is sInit / 6 m_k / (0 + eps), with m_k = eps.
 * // state.s ≈ [1e-6 / 6, 1e-6 / 6, 1e-6 / 6, 1e-6 / 6, 1e-6 / 6, 1e-6 / 6]; u ≈ [-2e-6, -4e-6]
 * ```
 * @since 0.3.0
 */
export function mechanize<S>(
  baseOptimizer: GradientTransformation<S>,
  options: MechanizeOptions | null = {},
): GradientTransformation<MechanicState<S>> {
  checkTransformation(where, baseOptimizer);
  options = readOptions(where, options, ["weightDecay", "eps", "sInit", "numBetas"], {
    hint: "optax's mechanize(base_optimizer, weight_decay, eps, s_init, num_betas) is mechanize(base, { weightDecay: 1e-2, eps: 1e-8, sInit: 1e-6, numBetas: 6 })",
  });
  const weightDecay = checkNumber(where, "weightDecay", options.weightDecay ?? 1e-2, { min: 0 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const sInit = checkNumber(where, "sInit", options.sInit ?? 1e-6, { min: 0, minExclusive: true });
  const n = checkNumber(where, "numBetas", options.numBetas ?? 6, { min: 1, max: 16, integer: true });
  const betas = Array.from({ length: n }, (_, k) => 1 - 0.1 ** (k + 1));
  return barrier<MechanicState<S>>(
    "Mechanize",
    (params) => ({
      baseOptimizerState: baseOptimizer.init(params),
      count: 0,
      r: new Array<number>(n).fill(0),
      m: new Array<number>(n).fill(0),
      v: new Array<number>(n).fill(0),
      s: new Array<number>(n).fill(sInit),
      x0: copyTree(flatten(params)),
    }),
    (updates: PyTree, state: MechanicState<S>, params?: PyTree, extra?: ExtraArgs) => {
      const st = stateRecord<MechanicState<S>>(where, state, ["baseOptimizerState", "count", "r", "m", "v", "s", "x0"]);
      const count = stateCount(where, st.count);
      const [r, m, v, s] = (["r", "m", "v", "s"] as const).map((name) => numbers(name, st[name], n));
      const grads = flatten(updates);
      const p = paramsFlat(where, params, grads);
      const x0Flat = count === 0 ? flatten(copyTree(p)) : stateTree(`${where}.x0`, st.x0, grads);
      const [base, baseState] = baseOptimizer.update(updates, st.baseOptimizerState, params, extra);
      const u = flatten(base);
      const g = grads.leaves.map(dataOf);
      const pd = p.leaves.map(dataOf);
      const x0 = x0Flat.leaves.map(dataOf);
      const f32 = g.map((a, i) => a instanceof Float32Array && pd[i] instanceof Float32Array);
      const sSum = s!.reduce((a, b) => a + b, 0);
      const c = (weightDecay * sSum * globalNormOf(g)) / (globalNormOf(pd) + eps);
      const divisor = sSum + eps;
      const h = g.reduce((sum, gi, i) => sum + leafH(gi, pd[i]!, x0[i]!, c, divisor, f32[i]!), 0);
      const mNext = betas.map((b, k) => Math.max(b * m![k]!, Math.abs(h) + eps));
      const vNext = betas.map((b, k) => b * b * v![k]! + h * h);
      const rNext = betas.map((b, k) => b * r![k]! + Math.min(Math.max(h, -m![k]!), m![k]!) * s![k]!);
      const sNext = betas.map(
        (_, k) => ((sInit / n) * mNext[k]! + Math.max(0, rNext[k]!)) / (Math.sqrt(vNext[k]!) + eps),
      );
      const scale = sNext.reduce((a, b) => a + b, 0);
      const out = unflatten(
        grads.def,
        grads.leaves.map((leaf, i) => {
          const data = new (g[i]!.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(g[i]!.length);
          leafUpdate(dataOf(u.leaves[i]!), pd[i]!, x0[i]!, scale, divisor, data, f32[i]!);
          return asLeafLike(leaf, data);
        }),
      );
      const next: MechanicState<S> = {
        baseOptimizerState: baseState,
        count: increment(count),
        r: rNext,
        m: mNext,
        v: vNext,
        s: sNext,
        x0: count === 0 ? unflatten(x0Flat.def, x0Flat.leaves) : st.x0,
      };
      return [out, next] as const;
    },
  );
}
