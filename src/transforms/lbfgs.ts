/**
 * L-BFGS's direction: `scaleByLbfgs`, optax's `scale_by_lbfgs`, the updates multiplied by an
 * inverse-Hessian estimate built from the last few steps. Not elementwise (it takes inner
 * products of whole trees), so it is plain TypeScript that the executor runs as a barrier.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { GradientTransformation } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { flatten, type Flat, type FloatArray, type PyTree } from "../core/pytree.js";
import { increment, paramsFlat, stateCount, stateRecord, treeLike, zerosTree } from "../core/state.js";
import { checkBoolean, checkNumber, readOptions } from "../core/validate.js";
import { axpy, dot, inDtypesOf, minus, scaled, stateVector, vectorOf, zerosOf, type Vector } from "./vectors.js";

/** The options of {@link scaleByLbfgs}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface LbfgsOptions {
  /** How many past steps the inverse-Hessian estimate is built from, an integer >= 1; default 10. */
  readonly memorySize?: number;
  /** Whether the estimate starts from `gamma I` with `gamma` from the last step (else `I`); default true. */
  readonly scaleInitPrecond?: boolean;
}

/**
 * The state of {@link scaleByLbfgs}: optax's `ScaleByLBFGSState`. Its trees have the params'
 * structure, leaf kinds and dtypes; the memories are arrays of `memorySize` such trees (optax
 * stacks them into leaves of one more dimension).
 *
 * @since 0.3.0
 */
export interface ScaleByLbfgsState {
  /** Steps taken. */
  readonly count: number;
  /** The params of the last step (zeros at init). */
  readonly params: PyTree;
  /** The updates of the last step, in the params' dtypes (zeros at init). */
  readonly updates: PyTree;
  /** `dw_j = w_{j+1} - w_j` for the last `memorySize` steps, a ring buffer. */
  readonly diffParamsMemory: readonly PyTree[];
  /** `du_j = u_{j+1} - u_j` for the last `memorySize` steps. */
  readonly diffUpdatesMemory: readonly PyTree[];
  /** `rho_j = 1 / <du_j, dw_j>` (0 where that product is 0), float64 numbers. */
  readonly weightsMemory: readonly number[];
}

const where = "scaleByLbfgs";
const KEYS = ["count", "params", "updates", "diffParamsMemory", "diffUpdatesMemory", "weightsMemory"] as const;

/** One of the state's memories: an array of `size` trees like the updates, as dense leaves. */
function memoryOf(name: string, memory: unknown, updates: Flat, size: number): FloatArray[][] {
  if (!Array.isArray(memory) || memory.length !== size)
    throw new GradTxError(
      "BAD_STATE",
      `${where}: ${name} must be an array of memorySize = ${size} trees like the params, got ${Array.isArray(memory) ? `an array of length ${memory.length}` : memory === null ? "null" : typeof memory}`,
    );
  return (memory as unknown[]).map((tree, j) => stateVector(`${where}: ${name}[${j}]`, tree, updates));
}

/** The state's weights: `size` numbers. */
function weightsOf(weights: unknown, size: number): number[] {
  if (!Array.isArray(weights) || weights.length !== size || !weights.every((w) => typeof w === "number"))
    throw new GradTxError(
      "BAD_STATE",
      `${where}: weightsMemory must be an array of memorySize = ${size} numbers, got ${Array.isArray(weights) ? `an array of length ${weights.length}` : weights === null ? "null" : typeof weights}`,
    );
  return weights as number[];
}

/**
 * L-BFGS's two-loop recursion (Nocedal and Wright, Algorithm 7.4): `P u` for the inverse-Hessian
 * estimate `P` of the memories, walked from the newest entry back to the oldest (at `oldest`) and
 * then forward.
 */
function precondition(
  u: Vector,
  dw: readonly Vector[],
  du: readonly Vector[],
  rho: readonly number[],
  gamma: number,
  oldest: number,
): FloatArray[] {
  const m = rho.length;
  const alphas = new Array<number>(m);
  let v = u as FloatArray[];
  for (let j = m - 1; j >= 0; j--) {
    const i = (oldest + j) % m;
    alphas[j] = rho[i]! * dot(dw[i]!, v);
    v = axpy(v, -alphas[j]!, du[i]!);
  }
  v = scaled(gamma, v);
  for (let j = 0; j < m; j++) {
    const i = (oldest + j) % m;
    const beta = rho[i]! * dot(du[i]!, v);
    v = axpy(v, alphas[j]! - beta, dw[i]!);
  }
  return v;
}

/**
 * Multiplies the updates by L-BFGS's estimate of the inverse Hessian, built from the differences
 * of the last `memorySize` params and updates: optax's `scale_by_lbfgs` (Nocedal and Wright,
 * Algorithms 7.4 and 7.5; Liu and Nocedal 1989). It gives the direction only; chain it with a line
 * search ({@link scaleByZoomLinesearch}) for the step, as {@link lbfgs} does.
 *
 * At step `k` (from 0), with params `w_k` and updates `u_k` (the gradient):
 * ```
 * dw_{k-1} = w_k - w_{k-1},  du_{k-1} = u_k - u_{k-1},  rho_{k-1} = 1 / <du_{k-1}, dw_{k-1}>  (0 if not finite)
 *                                                             (all 0 at k = 0; kept for the last memorySize steps)
 * gamma_k = <dw_{k-1}, du_{k-1}> / <du_{k-1}, du_{k-1}>       (1 if the denominator is 0, or without scaleInitPrecond)
 * gamma_0 = min(1, 1 / ||u_0||)                               (with scaleInitPrecond)
 * P_k = V_j^T P V_j + rho_j dw_j dw_j^T over the memory, from P = gamma_k I,  V_j = I - rho_j du_j dw_j^T
 * u' = P_k u_k                                                (the two-loop recursion)
 * ```
 *
 * Not elementwise: it is plain TypeScript on the tree utilities, which the executor runs as a
 * barrier (kernels before and after it still fuse). It reads the params (`MISSING_PARAMS`
 * without them). The memories are in the params' dtypes and a float32 leaf's arithmetic is
 * float32, as in optax. Where gradtx differs: the inner products are float64 sums (optax's are in
 * the leaves' dtype), the scalars they make are float64 and multiply a float32 leaf's elements
 * before the product is rounded (they can lie beyond float32's range when the steps are tiny,
 * where optax's overflow), `weightsMemory` holds float64 numbers, and a weight whose reciprocal
 * `<du, dw>` is so small (subnormal, near convergence) that it overflows is 0, not optax's
 * infinity, which would turn the direction into NaN (`Infinity * 0`) once the steps underflow.
 *
 * @param options optax's keyword arguments, camelCased; see {@link LbfgsOptions}.
 * @example
 * ```ts
 * import { scaleByLbfgs } from "gradtx";
 * const tx = scaleByLbfgs();
 * const params = Float64Array.of(3, 4);
 * // the first step only scales the gradient to norm at most 1: gamma_0 = min(1, 1 / ||g||)
 * const [direction] = tx.update(Float64Array.of(6, 8), tx.init(params), params);
 * Array.from(direction as Float64Array); // [0.6000000000000001, 0.8]
 * ```
 * @since 0.3.0
 */
export function scaleByLbfgs(options: LbfgsOptions | null = {}): GradientTransformation<ScaleByLbfgsState> {
  options = readOptions(where, options, ["memorySize", "scaleInitPrecond"], {
    hint: "optax's scale_by_lbfgs(memory_size=10) is scaleByLbfgs({ memorySize: 10 })",
  });
  const m = checkNumber(where, "memorySize", options.memorySize ?? 10, { min: 1, integer: true, max: 2 ** 20 });
  const scaleInit = checkBoolean(where, "scaleInitPrecond", options.scaleInitPrecond ?? true);

  const init = (params: PyTree): ScaleByLbfgsState => {
    const flat = flatten(params);
    return {
      count: 0,
      params: zerosTree(flat),
      updates: zerosTree(flat),
      diffParamsMemory: Array.from({ length: m }, () => zerosTree(flat)),
      diffUpdatesMemory: Array.from({ length: m }, () => zerosTree(flat)),
      weightsMemory: new Array<number>(m).fill(0),
    };
  };

  const update = (updates: PyTree, state: ScaleByLbfgsState, params?: PyTree): [PyTree, ScaleByLbfgsState] => {
    const flat = flatten(updates);
    const p = paramsFlat(where, params, flat);
    const s = stateRecord<ScaleByLbfgsState>(where, state, KEYS);
    const count = stateCount(where, s.count);
    const lastParams = stateVector(`${where}: params`, s.params, flat);
    const lastUpdates = stateVector(`${where}: updates`, s.updates, flat);
    const dw = memoryOf("diffParamsMemory", s.diffParamsMemory, flat, m);
    const du = memoryOf("diffUpdatesMemory", s.diffUpdatesMemory, flat, m);
    const rho = weightsOf(s.weightsMemory, m).slice();

    const u = vectorOf(flat);
    const w = vectorOf(p);
    const kept = inDtypesOf(p, u); // the updates as the state keeps them, in the params' dtypes
    // The differences need a previous step: at the first they are zeros.
    const first = count === 0;
    const dParams = first ? zerosOf(p) : minus(w, lastParams);
    const dUpdates = first ? dParams.map((a) => a.slice()) : minus(kept, lastUpdates);
    const curvature = dot(dUpdates, dParams);
    const newest = (((count - 1) % m) + m) % m;
    dw[newest] = dParams;
    du[newest] = dUpdates;
    // A curvature so small (subnormal) that its reciprocal overflows carries no information: weight 0.
    const weight = 1 / curvature;
    rho[newest] = first || !Number.isFinite(weight) ? 0 : weight;

    let gamma = 1;
    if (scaleInit)
      if (first) gamma = Math.min(1, 1 / Math.sqrt(dot(u, u)));
      else {
        const squares = dot(dUpdates, dUpdates);
        gamma = squares > 0 ? curvature / squares : 1;
      }
    const direction = precondition(u, dw, du, rho, gamma, count % m);

    const dwTrees = s.diffParamsMemory.slice();
    const duTrees = s.diffUpdatesMemory.slice();
    dwTrees[newest] = treeLike(p, dParams);
    duTrees[newest] = treeLike(p, dUpdates);
    return [
      treeLike(flat, direction),
      {
        count: increment(count),
        params: treeLike(p, inDtypesOf(p, w)),
        updates: treeLike(p, kept),
        diffParamsMemory: dwTrees,
        diffUpdatesMemory: duTrees,
        weightsMemory: rho,
      },
    ];
  };

  return barrier("ScaleByLbfgs", init, update);
}
