/**
 * SM3's rescaling (Anil et al., 2019): one accumulator per row, per column (per index of each
 * axis) in place of one per element, optax's `scale_by_sm3`.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { GradientTransformation, ShapesState } from "../core/base.js";
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
import { zerosTree } from "../core/state.js";
import { DECAY, checkNumber, readOptions } from "../core/validate.js";
import {
  inDtypeOf,
  oneDtype,
  perDtype,
  readShaped,
  shapesRecord,
  sizeBetween,
  stateArrays,
  updateLeaf,
  type FloatCtor,
} from "./shaped.js";

/**
 * The state of {@link scaleBySm3}: optax's `ScaleBySM3State`, with the params' shapes.
 *
 * @since 0.3.0
 */
export interface ScaleBySm3State extends ShapesState {
  /**
   * Per leaf, a list of accumulators, one per axis: for a leaf of shape `[n0, n1, ...]`, arrays of
   * `n0`, `n1`, ... elements (the largest `accum` along each index of that axis); a vector's is
   * one array like the leaf.
   */
  readonly mu: PyTree;
  /** The momentum of the rescaled updates, like the params. */
  readonly nu: PyTree;
}

/** Options of {@link scaleBySm3} (optax's names). @since 0.3.0 */
export interface Sm3Options {
  /** Decay of the momentum, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the accumulators, in [0, 1]; 1 (the default) sums them, as SM3 does. */
  readonly b2?: number;
  /** Added to the accumulator under the root, >= 0. Default 1e-8. */
  readonly eps?: number;
}

/** The per-axis sizes of a leaf's accumulators: its shape, or one vector of its size below two dimensions. */
const axesOf = (shape: readonly number[]): number[] =>
  shape.length < 2 ? [sizeBetween(shape, 0, shape.length)] : shape.slice();

/** The per-step numbers, in a leaf's dtype. */
interface Scalars {
  readonly c0: number;
  readonly c1: number;
  readonly take: number;
  readonly b1: number;
  readonly eps: number;
}

/**
 * One leaf: the new momentum (fresh) and the new per-axis accumulators (fresh), each operation
 * stored into an array of the leaf's dtype `C`. The leaf is read as rows along its last axis; an
 * odometer walks the other axes.
 */
function sm3Leaf(
  C: FloatCtor,
  axes: readonly number[],
  g: FloatArray,
  mu: readonly FloatArray[],
  nu: FloatArray,
  s: Scalars,
): { readonly nu: FloatArray; readonly mu: FloatArray[] } {
  const last = axes.length - 1;
  const n = axes[last]!;
  const lastMu = mu[last]!;
  const next = mu.map((m) => new C(m.length).fill(-Infinity));
  const nextLast = next[last]!;
  const momentum = new C(g.length);
  const r = new C(3);
  const index = new Array<number>(last).fill(0);
  for (let at = 0; at < g.length; at += n) {
    // The smallest accumulator over the row's fixed indices.
    let rowMin = Infinity;
    for (let k = 0; k < last; k++) rowMin = Math.min(rowMin, mu[k]![index[k]!]!);
    let rowMax = -Infinity;
    for (let j = 0; j < n; j++) {
      const e = at + j;
      r[0] = g[e]! * g[e]!;
      r[0] = s.c0 * r[0];
      r[1] = s.c1 * Math.min(rowMin, lastMu[j]!);
      r[0] = r[0] + r[1];
      const accum = r[0];
      rowMax = Math.max(rowMax, accum);
      nextLast[j] = Math.max(nextLast[j]!, accum);
      // 1 / sqrt(accum + eps) where accum > 0, else 0 (optax's convention that 0 / 0 is 0).
      if (accum > 0) {
        r[1] = accum + s.eps;
        r[1] = 1 / Math.sqrt(r[1]);
      } else r[1] = 0;
      r[1] = g[e]! * r[1];
      r[1] = s.take * r[1];
      r[2] = s.b1 * nu[e]!;
      momentum[e] = r[1] + r[2];
    }
    for (let k = 0; k < last; k++) next[k]![index[k]!] = Math.max(next[k]![index[k]!]!, rowMax);
    for (let d = last - 1; d >= 0; d--) {
      if (++index[d]! < axes[d]!) break;
      index[d] = 0;
    }
  }
  return { nu: momentum, mu: next };
}

/**
 * SM3's rescaling (Anil et al., 2019, "Memory-Efficient Adaptive Optimization"), as optax's
 * `scale_by_sm3`: Adagrad's accumulated squares, kept per index of each axis (a matrix keeps
 * one number per row and one per column) instead of per element, each element using the
 * smallest of the accumulators that cover it:
 *
 * ```
 * accum = c0 g^2 + b2 min_k mu_k[i_k]          (c0 = 1 - b2, or 1 when b2 = 1; a vector: mu_0[i])
 * up    = accum > 0 ? g / sqrt(accum + eps) : 0
 * nu'   = (1 - b1) up + b1 nu,    u' = nu'
 * mu_k' = max over the other axes of accum     (a vector: accum itself)
 * ```
 *
 * A typed-array leaf is a vector; an ndarray leaf has the axes of its shape at `init`. It is not
 * elementwise (the accumulators are reductions over rows and columns), so it runs as plain
 * TypeScript between the executor's fused passes, one pass per leaf. Arithmetic is in the
 * params' dtype, each operation rounded; `1 / sqrt` is rounded once.
 *
 * @param options `b1` 0.9, `b2` 1, `eps` 1e-8, as optax's.
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { scaleBySm3, type ScaleBySm3State } from "gradtx";
 * const tx = scaleBySm3();
 * const p = ndarray(new Float64Array(4), [2, 2]);
 * const [u, state] = tx.update(ndarray(Float64Array.of(3, 0, 0, 4), [2, 2]), tx.init(p));
 * // The accumulators start at 0, so accum is g^2 and up is g / sqrt(g^2 + eps), about sign(g).
 * Array.from((u as { data: Float64Array }).data); // ≈ [0.1, 0, 0, 0.1]
 * // Each row's and each column's largest g^2.
 * Array.from((state.mu as Float64Array[])[0]!); // [9, 16]
 * Array.from((state.mu as Float64Array[])[1]!); // [9, 16]
 * ```
 * @since 0.3.0
 */
export function scaleBySm3(options: Sm3Options | null = {}): GradientTransformation<ScaleBySm3State> {
  const where = "scaleBySm3";
  options = readOptions(where, options, ["b1", "b2", "eps"], {
    hint: "optax's scale_by_sm3(b1, b2, eps) is scaleBySm3({ b1: 0.9, b2: 1, eps: 1e-8 })",
  });
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, DECAY);
  const b2 = checkNumber(where, "b2", options.b2 ?? 1, { min: 0, max: 1 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });

  const init = (params: PyTree): ScaleBySm3State => {
    const flat = flatten(params);
    const shapes = shapesRecord(params);
    const dims = flatten(shapes).leaves.map((d) => axesOf(Array.from(dataOf(d))));
    return {
      mu: unflatten(
        flat.def,
        dims.map((axes, i) => axes.map((n) => new (ctorOf(flat.leaves[i]!))(n))),
      ),
      nu: zerosTree(flat),
      shapes,
    };
  };

  const update = (updates: PyTree, state: ScaleBySm3State): readonly [PyTree, ScaleBySm3State] => {
    const flat = flatten(updates);
    const { record, shapes, paths } = readShaped<ScaleBySm3State>(where, state, ["mu", "nu", "shapes"], flat);
    const axes = shapes.map(axesOf);
    const nus = stateArrays(
      where,
      "nu",
      record.nu,
      shapes.map((s) => sizeBetween(s, 0, s.length)),
      paths,
    );
    const mus = stateArrays(
      where,
      "mu",
      record.mu,
      axes.flat(),
      axes.flatMap((a, i) => a.map((_, k) => `${paths[i]}[${k}]`)),
    );
    const scalarsOf = perDtype((C): Scalars => {
      const [c0, c1, take, d1, e] = C.of(b2 !== 1 ? 1 - b2 : 1, b2, 1 - b1, b1, eps);
      return { c0: c0!, c1: c1!, take: take!, b1: d1!, eps: e! };
    });
    const out: Leaf[] = [];
    const nu: Leaf[] = [];
    const mu: FloatArray[][] = [];
    let m = 0;
    axes.forEach((a, i) => {
      const leafMu = mus.data.slice(m, m + a.length);
      m += a.length;
      const C = oneDtype(where, paths[i], [nus.data[i]!, ...leafMu]);
      const next = sm3Leaf(C, a, dataOf(flat.leaves[i]!), leafMu, nus.data[i]!, scalarsOf(C));
      nu.push(asLeafLike(nus.leaves[i]!, next.nu));
      mu.push(next.mu);
      // The update is nu', in the updates' dtype, an array of its own (the state keeps nu').
      const u = inDtypeOf(flat.leaves[i]!, next.nu);
      out.push(updateLeaf(flat, i, u === next.nu ? u.slice() : u));
    });
    return [
      unflatten(flat.def, out),
      { mu: unflatten(flat.def, mu), nu: unflatten(flat.def, nu), shapes: record.shapes },
    ];
  };
  return barrier("ScaleBySm3", init, update);
}
