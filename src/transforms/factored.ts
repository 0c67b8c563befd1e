/**
 * Adafactor's rescaling (Shazeer and Stern, 2018): a second moment factored into a row and a
 * column accumulator for matrices, optax's `scale_by_factored_rms`.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  flatten,
  unflatten,
  type FloatArray,
  type Leaf,
  type PyTree,
} from "../core/pytree.js";
import { increment, stateCount } from "../core/state.js";
import { checkBoolean, checkNumber, invalid, readOptions } from "../core/validate.js";
import {
  inDtypeOf,
  leafOfShape,
  meanMiddle,
  oneDtype,
  perDtype,
  readShaped,
  shapesRecord,
  sizeBetween,
  stateArrays,
  updateLeaf,
  withoutAxis,
  type FloatCtor,
} from "./shaped.js";

/**
 * The state of {@link scaleByFactoredRms}: optax's `FactoredState`, with the params' shapes.
 * Each tree has the params' structure; a leaf's unused accumulators hold one zero, as optax's.
 *
 * @since 0.3.0
 */
export interface FactoredState extends ShapesState {
  /** Steps taken. */
  readonly count: number;
  /** Factored leaves: the moving average of `g^2 + epsilon` averaged over the largest axis (the shape without it). */
  readonly vRow: PyTree;
  /** Factored leaves: the same averaged over the second largest axis (the shape without it). */
  readonly vCol: PyTree;
  /** The other leaves: the moving average of `g^2 + epsilon`, shaped like the leaf. */
  readonly v: PyTree;
}

/** Options of {@link scaleByFactoredRms}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface FactoredRmsOptions {
  /** Whether to factor the second moment of leaves of two or more dimensions. Default true. */
  readonly factored?: boolean;
  /** The exponent of the decay schedule `1 - (t + 1)^-decayRate`, > 0. Default 0.8. */
  readonly decayRate?: number;
  /** Subtracted from the step count before the schedule (to restart it for fine-tuning), an integer >= 0. Default 0. */
  readonly stepOffset?: number;
  /** Factor only if the second largest dimension is at least this, an integer >= 0. Default 128. */
  readonly minDimSizeToFactor?: number;
  /** Added to the squared gradient, >= 0. Default 1e-30. */
  readonly epsilon?: number;
  /**
   * The decay at each step, `(step, decayRate) => decay` with `step = count - stepOffset`;
   * default `1 - (step + 1)^-decayRate`.
   */
  readonly decayRateFn?: (step: number, decayRate: number) => number;
}

/** The keys of {@link FactoredRmsOptions}. */
export const FACTORED_RMS_KEYS = [
  "factored",
  "decayRate",
  "stepOffset",
  "minDimSizeToFactor",
  "epsilon",
  "decayRateFn",
] as const;

/**
 * The two axes a leaf's second moment is factored over: `[d1, d0]`, the second largest and the
 * largest (ties by position, as numpy's stable argsort of a small shape), or `undefined` when the
 * leaf is not factored.
 */
export function factoredDims(
  shape: readonly number[],
  factored: boolean,
  minDimSizeToFactor: number,
): readonly [number, number] | undefined {
  if (!factored || shape.length < 2) return undefined;
  const order = shape.map((_, i) => i).sort((a, b) => shape[a]! - shape[b]! || a - b);
  const d1 = order[order.length - 2]!;
  const d0 = order[order.length - 1]!;
  return shape[d1]! < minDimSizeToFactor ? undefined : [d1, d0];
}

/** A leaf's state arrays and its plan: factored over `[d1, d0]`, or not. */
interface LeafPlan {
  readonly shape: readonly number[];
  readonly dims: readonly [number, number] | undefined;
  readonly rowShape: readonly number[];
  readonly colShape: readonly number[];
}

/** The per-step numbers, rounded once to a leaf's dtype. */
interface Scalars {
  readonly decay: number;
  readonly take: number;
  readonly epsilon: number;
}

function planOf(shape: readonly number[], factored: boolean, minDim: number): LeafPlan {
  const dims = factoredDims(shape, factored, minDim);
  if (dims === undefined) return { shape, dims, rowShape: [1], colShape: [1] };
  return { shape, dims, rowShape: withoutAxis(shape, dims[1]), colShape: withoutAxis(shape, dims[0]) };
}

const sizeOfShape = (shape: readonly number[]): number => sizeBetween(shape, 0, shape.length);

/** `x` read as `[outer, n, inner]` around `axis` of `shape`. */
const around = (shape: readonly number[], axis: number): [number, number, number] => [
  sizeBetween(shape, 0, axis),
  shape[axis]!,
  sizeBetween(shape, axis + 1, shape.length),
];

/**
 * One factored leaf: the new row and column accumulators (into `vRow`, `vCol`, fresh) and the
 * update (into `out`). Each operation's result is stored into an array of the leaf's dtype `C`.
 */
function factoredLeaf(
  plan: LeafPlan,
  C: FloatCtor,
  g: FloatArray,
  vRow: FloatArray,
  vCol: FloatArray,
  s: Scalars,
  out: FloatArray,
): { readonly row: FloatArray; readonly col: FloatArray } {
  const [d1, d0] = plan.dims!;
  const { shape } = plan;
  const n = g.length;
  const r = new C(2);
  // g^2 + epsilon, in the leaf's dtype.
  const sq = new C(n);
  for (let j = 0; j < n; j++) {
    r[0] = g[j]! * g[j]!;
    sq[j] = r[0] + s.epsilon;
  }
  // The means over the largest axis (row) and the second largest (column), then the averages.
  const average = (v: FloatArray, axis: number, size: number): FloatArray => {
    const mean = new C(size);
    const [outer, m, inner] = around(shape, axis);
    meanMiddle(sq, outer, m, inner, mean);
    const next = new C(size);
    for (let j = 0; j < size; j++) {
      r[0] = s.decay * v[j]!;
      r[1] = s.take * mean[j]!;
      next[j] = r[0] + r[1];
    }
    return next;
  };
  const row = average(vRow, d0, vRow.length);
  const col = average(vCol, d1, vCol.length);
  // The row factor: (row / mean of row over d1)^-0.5; the column factor: col^-0.5.
  const d1InRow = d1 > d0 ? d1 - 1 : d1;
  const [outer, m, inner] = around(plan.rowShape, d1InRow);
  const rowMean = new C(outer * inner);
  meanMiddle(row, outer, m, inner, rowMean);
  const rowFactor = new C(row.length);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < m; k++) {
      const at = (o * m + k) * inner;
      for (let j = 0; j < inner; j++) {
        r[0] = row[at + j]! / rowMean[o * inner + j]!;
        rowFactor[at + j] = 1 / Math.sqrt(r[0]);
      }
    }
  const colFactor = new C(col.length);
  for (let j = 0; j < col.length; j++) colFactor[j] = 1 / Math.sqrt(col[j]!);
  // u = g * rowFactor (broadcast over d0) * colFactor (broadcast over d1): the leaf as
  // [P, L, M, H, Q] around its two axes lo < hi; the row factor drops d0, the column factor d1.
  const lo = Math.min(d0, d1);
  const hi = Math.max(d0, d1);
  const P = sizeBetween(shape, 0, lo);
  const L = shape[lo]!;
  const M = sizeBetween(shape, lo + 1, hi);
  const H = shape[hi]!;
  const Q = sizeBetween(shape, hi + 1, shape.length);
  const noLo = d0 === lo ? rowFactor : colFactor;
  const noHi = d0 === lo ? colFactor : rowFactor;
  const rowFirst = d0 === lo;
  let e = 0;
  for (let p = 0; p < P; p++)
    for (let l = 0; l < L; l++)
      for (let mm = 0; mm < M; mm++)
        for (let h = 0; h < H; h++) {
          const a = ((p * M + mm) * H + h) * Q;
          const b = ((p * L + l) * M + mm) * Q;
          for (let q = 0; q < Q; q++, e++) {
            r[0] = g[e]! * (rowFirst ? noLo[a + q]! : noHi[b + q]!);
            out[e] = r[0] * (rowFirst ? noHi[b + q]! : noLo[a + q]!);
          }
        }
  return { row, col };
}

/** One leaf that is not factored: the new accumulator (fresh) and the update (into `out`). */
function plainLeaf(C: FloatCtor, g: FloatArray, v: FloatArray, s: Scalars, out: FloatArray): FloatArray {
  const next = new C(g.length);
  const r = new C(3);
  for (let j = 0; j < g.length; j++) {
    r[0] = g[j]! * g[j]!;
    r[0] = r[0] + s.epsilon;
    r[1] = s.decay * v[j]!;
    r[2] = s.take * r[0];
    next[j] = r[1] + r[2];
    r[0] = 1 / Math.sqrt(next[j]!);
    out[j] = g[j]! * r[0];
  }
  return next;
}

/** optax's default decay schedule, `1 - (step + 1)^-exponent`. */
const decayRatePow = (step: number, exponent: number): number => 1 - (step + 1) ** -exponent;

/**
 * Adafactor's rescaling by a factored estimate of the gradient's root mean square (Shazeer and
 * Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost"), as optax's
 * `scale_by_factored_rms`. A leaf of two or more dimensions whose second largest dimension is at
 * least `minDimSizeToFactor` keeps, instead of one number per element, the averages over its
 * largest axis `d0` (`vRow`) and over its second largest `d1` (`vCol`):
 *
 * ```
 * beta = decayRateFn(count - stepOffset, decayRate)      (1 - (t + 1)^-0.8 by default)
 * s    = g^2 + epsilon
 * factored:   vRow' = beta vRow + (1 - beta) mean_d0(s)
 *             vCol' = beta vCol + (1 - beta) mean_d1(s)
 *             u     = g * (vRow' / mean_d1(vRow'))^-0.5 * vCol'^-0.5   (broadcast over d0, d1)
 * otherwise:  v'    = beta v + (1 - beta) s
 *             u     = g * v'^-0.5
 * ```
 *
 * A typed-array leaf is a vector and is never factored; an ndarray leaf is factored by its shape
 * at `init`. It is not elementwise: it runs as plain TypeScript between the executor's fused
 * passes (one pass over a leaf for the squares, one for the update).
 *
 * **Where gradtx differs from optax.** The decay `beta` and `1 - beta` are computed in float64
 * and rounded once to the leaf's dtype (optax computes them in float32 whatever the leaf); the
 * means are summed in float64 and rounded once (XLA sums a float32 mean in float32);
 * `x^-0.5` is `1 / sqrt(x)` rounded once. The params are not read (optax requires them, for their
 * shapes, which gradtx's state records at `init`).
 *
 * @param options optax's keyword arguments, camelCased; see {@link FactoredRmsOptions}.
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { scaleByFactoredRms, type FactoredState } from "gradtx";
 * const tx = scaleByFactoredRms({ minDimSizeToFactor: 2 });
 * const p = ndarray(new Float64Array(4), [2, 2]);
 * const g = ndarray(Float64Array.of(1, 1, 2, 2), [2, 2]);
 * const [u, state] = tx.update(g, tx.init(p));
 * // On the first step the decay is 0 (1 - 1^-0.8): vRow holds the rows' mean squares [1, 4],
 * // vCol the columns' [2.5, 2.5], and u is g / sqrt(vRow / 2.5) / sqrt(2.5), or g / sqrt(vRow).
 * Array.from((u as { data: Float64Array }).data); // ≈ [1, 1, 1, 1]
 * Array.from(state.vRow as Float64Array); // ≈ [1, 4]
 * ```
 * @since 0.3.0
 */
export function scaleByFactoredRms(options: FactoredRmsOptions | null = {}): GradientTransformation<FactoredState> {
  const where = "scaleByFactoredRms";
  options = readOptions(where, options, FACTORED_RMS_KEYS, {
    hint: "optax's scale_by_factored_rms(factored, decay_rate, step_offset, min_dim_size_to_factor, epsilon) is scaleByFactoredRms({ factored: true, decayRate: 0.8 })",
    aliases: { minDimSize: "minDimSizeToFactor", eps: "epsilon" },
  });
  const factored = checkBoolean(where, "factored", options.factored ?? true);
  const decayRate = checkNumber(where, "decayRate", options.decayRate ?? 0.8, { min: 0, minExclusive: true });
  const stepOffset = checkNumber(where, "stepOffset", options.stepOffset ?? 0, { min: 0, integer: true });
  const minDim = checkNumber(where, "minDimSizeToFactor", options.minDimSizeToFactor ?? 128, {
    min: 0,
    integer: true,
  });
  const epsilon = checkNumber(where, "epsilon", options.epsilon ?? 1e-30, { min: 0 });
  const decayFn = options.decayRateFn ?? decayRatePow;
  if (typeof decayFn !== "function") invalid(where, `decayRateFn must be a function, got ${typeof decayFn}`);

  const init = (params: PyTree): FactoredState => {
    const flat = flatten(params);
    const shapes = shapesRecord(params);
    const plans = flatten(shapes).leaves.map((dims) => planOf(Array.from(dataOf(dims)), factored, minDim));
    const zeros = (pick: (plan: LeafPlan, C: FloatCtor, leaf: Leaf) => Leaf): PyTree =>
      unflatten(
        flat.def,
        plans.map((plan, i) => pick(plan, ctorOf(flat.leaves[i]!), flat.leaves[i]!)),
      );
    return {
      count: 0,
      vRow: zeros((plan, C) => leafOfShape(new C(sizeOfShape(plan.rowShape)), plan.rowShape)),
      vCol: zeros((plan, C) => leafOfShape(new C(sizeOfShape(plan.colShape)), plan.colShape)),
      v: zeros((plan, C, leaf) =>
        plan.dims === undefined ? asLeafLike(leaf, new C(sizeOfShape(plan.shape))) : new C(1),
      ),
      shapes,
    };
  };

  const update = (updates: PyTree, state: FactoredState): readonly [PyTree, FactoredState] => {
    const flat = flatten(updates);
    const { record, shapes, paths } = readShaped<FactoredState>(
      where,
      state,
      ["count", "vRow", "vCol", "v", "shapes"],
      flat,
    );
    const count = stateCount(where, record.count);
    const plans = shapes.map((shape) => planOf(shape, factored, minDim));
    const read = (name: "vRow" | "vCol" | "v", sizes: number[]) => stateArrays(where, name, record[name], sizes, paths);
    const rows = read(
      "vRow",
      plans.map((p) => sizeOfShape(p.rowShape)),
    );
    const cols = read(
      "vCol",
      plans.map((p) => sizeOfShape(p.colShape)),
    );
    const vs = read(
      "v",
      plans.map((p) => (p.dims === undefined ? sizeOfShape(p.shape) : 1)),
    );
    const beta = decayFn(count - stepOffset, decayRate);
    if (typeof beta !== "number")
      throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: decayRateFn must return a number, got ${typeof beta}`);
    const scalarsOf = perDtype((C): Scalars => {
      const [decay, take, eps] = C.of(beta, 1 - beta, epsilon);
      return { decay: decay!, take: take!, epsilon: eps! };
    });
    const out: Leaf[] = [];
    const vRow: Leaf[] = [];
    const vCol: Leaf[] = [];
    const v: Leaf[] = [];
    plans.forEach((plan, i) => {
      const C = oneDtype(where, paths[i], [rows.data[i]!, cols.data[i]!, vs.data[i]!]);
      const g = dataOf(flat.leaves[i]!);
      const res = new C(g.length);
      const s = scalarsOf(C);
      if (plan.dims === undefined) {
        v.push(asLeafLike(vs.leaves[i]!, plainLeaf(C, g, vs.data[i]!, s, res)));
        vRow.push(rows.leaves[i]!);
        vCol.push(cols.leaves[i]!);
      } else {
        const { row, col } = factoredLeaf(plan, C, g, rows.data[i]!, cols.data[i]!, s, res);
        vRow.push(leafOfShape(row, plan.rowShape));
        vCol.push(leafOfShape(col, plan.colShape));
        v.push(vs.leaves[i]!);
      }
      out.push(updateLeaf(flat, i, inDtypeOf(flat.leaves[i]!, res)));
    });
    return [
      unflatten(flat.def, out),
      {
        count: increment(count),
        vRow: unflatten(flat.def, vRow),
        vCol: unflatten(flat.def, vCol),
        v: unflatten(flat.def, v),
        shapes: record.shapes,
      },
    ];
  };
  return barrier("ScaleByFactoredRms", init, update);
}
