/**
 * Muon's rescaling (Jordan, 2024): momentum orthogonalized by a Newton–Schulz iteration, for
 * matrices, optax.contrib's `scale_by_muon`; and the width scaling optax's `muon` applies after it.
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
  leafPaths,
  unflatten,
  type FloatArray,
  type Leaf,
  type PyTree,
} from "../core/pytree.js";
import { biasCorrection, increment, stateCount, zerosTree } from "../core/state.js";
import { globalNormOf } from "../core/tree.js";
import { DECAY, checkBoolean, checkNumber, invalid, readOptions } from "../core/validate.js";
import {
  inDtypeOf,
  oneDtype,
  perDtype,
  readShaped,
  shapesRecord,
  stateArrays,
  updateLeaf,
  type FloatCtor,
} from "./shaped.js";

/** optax's default Newton–Schulz coefficients (Jordan's quintic). */
export const MUON_NS_COEFFS: readonly [number, number, number] = [3.4445, -4.775, 2.0315];

/** Newton–Schulz coefficients: one triple for every step, or a triple per step. @since 0.3.0 */
export type NsCoeffs = readonly [number, number, number] | readonly (readonly [number, number, number])[];

/** The state of {@link scaleByMuon}: optax's `MuonState` without its coefficients, with the params' shapes. @since 0.3.0 */
export interface ScaleByMuonState extends ShapesState {
  /** Steps taken. */
  readonly count: number;
  /** The momentum, like the params. */
  readonly mu: PyTree;
}

/** Options of {@link scaleByMuon}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface ScaleByMuonOptions {
  /** The coefficients `[a, b, c]` of `a X + b (X X^T) X + c (X X^T)^2 X`, or one triple per step. Default {@link MUON_NS_COEFFS}. */
  readonly nsCoeffs?: NsCoeffs;
  /** Newton–Schulz steps, an integer >= 1 (with a triple per step, at least their number). Default 5. */
  readonly nsSteps?: number;
  /** Decay of the momentum, in [0, 1). Default 0.95. */
  readonly beta?: number;
  /** Added to the Frobenius norm before the first step, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Nesterov momentum. Default true. */
  readonly nesterov?: boolean;
  /** Scale the result by its inner product with the momentum (the dual norm). Default false. */
  readonly adaptive?: boolean;
  /** Only `"frobenius"`, the default: optax's other preconditionings are not offered. */
  readonly preconditioning?: "frobenius";
}

/** The keys of {@link ScaleByMuonOptions}. */
export const SCALE_BY_MUON_KEYS = [
  "nsCoeffs",
  "nsSteps",
  "beta",
  "eps",
  "nesterov",
  "adaptive",
  "preconditioning",
] as const;

/** The coefficient triples, one per step, checked. */
export function nsSchedule(where: string, coeffs: unknown, steps: number): (readonly [number, number, number])[] {
  const isTriple = (c: unknown): c is readonly [number, number, number] =>
    Array.isArray(c) && c.length === 3 && c.every((x) => typeof x === "number" && Number.isFinite(x));
  if (isTriple(coeffs)) return new Array<readonly [number, number, number]>(steps).fill(coeffs);
  if (Array.isArray(coeffs) && coeffs.length > 0 && coeffs.every(isTriple)) {
    if (coeffs.length > steps)
      invalid(where, `nsCoeffs has ${coeffs.length} triples, more than nsSteps (${steps}): not enough steps for them`);
    return coeffs.slice();
  }
  return invalid(where, "nsCoeffs must be a triple [a, b, c] of finite numbers, or a non-empty array of such triples");
}

/**
 * `c = a a^T` for `a` (r by k, row-major): each element the float64 dot product of two rows
 * (four partial sums, added in a fixed order), rounded once to `c`'s dtype. The result is
 * symmetric, so only the upper triangle is summed.
 */
function gram(a: FloatArray, r: number, k: number, c: FloatArray): void {
  for (let i = 0; i < r; i++)
    for (let j = i; j < r; j++) {
      const x = i * k;
      const y = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let q = 0;
      for (; q + 3 < k; q += 4) {
        s0 += a[x + q]! * a[y + q]!;
        s1 += a[x + q + 1]! * a[y + q + 1]!;
        s2 += a[x + q + 2]! * a[y + q + 2]!;
        s3 += a[x + q + 3]! * a[y + q + 3]!;
      }
      for (; q < k; q++) s0 += a[x + q]! * a[y + q]!;
      c[i * r + j] = s0 + s1 + (s2 + s3);
      c[j * r + i] = c[i * r + j]!;
    }
}

/**
 * `c = a b` for `a` (r by k) and `b` (k by s), row-major: each row of `c` summed in float64 over
 * the rows of `b`, four at a time (in a fixed order), each element rounded once to `c`'s dtype.
 */
function matmul(a: FloatArray, b: FloatArray, r: number, k: number, s: number, c: FloatArray): void {
  const acc = new Float64Array(s);
  for (let i = 0; i < r; i++) {
    acc.fill(0);
    const row = i * k;
    let q = 0;
    for (; q + 3 < k; q += 4) {
      const x0 = a[row + q]!;
      const x1 = a[row + q + 1]!;
      const x2 = a[row + q + 2]!;
      const x3 = a[row + q + 3]!;
      const b0 = q * s;
      const b1 = b0 + s;
      const b2 = b1 + s;
      const b3 = b2 + s;
      for (let j = 0; j < s; j++)
        acc[j] = acc[j]! + (x0 * b[b0 + j]! + x1 * b[b1 + j]!) + (x2 * b[b2 + j]! + x3 * b[b3 + j]!);
    }
    for (; q < k; q++) {
      const x = a[row + q]!;
      const b0 = q * s;
      for (let j = 0; j < s; j++) acc[j] = acc[j]! + x * b[b0 + j]!;
    }
    for (let j = 0; j < s; j++) c[i * s + j] = acc[j]!;
  }
}

/**
 * The Newton–Schulz orthogonalization of the `rows` by `cols` matrix `x` (row-major), in `C`'s
 * dtype, as optax's `orthogonalize_via_newton_schulz` with Frobenius preconditioning: a wide
 * matrix as it is, a tall one transposed and back; `X / (||X||_F + eps)`, then per step
 * `A = X X^T`, `B = b A + c A A`, `X = a X + B X`.
 */
export function newtonSchulz(
  C: FloatCtor,
  x: FloatArray,
  rows: number,
  cols: number,
  coeffs: readonly (readonly [number, number, number])[],
  eps: number,
): FloatArray {
  const tall = rows > cols;
  const m = tall ? cols : rows;
  const n = tall ? rows : cols;
  let X = new C(m * n);
  if (tall) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) X[j * rows + i] = x[i * cols + j]!;
  else X.set(x);
  const r = new C(2);
  r[0] = globalNormOf([X]);
  r[0] = r[0] + C.of(eps)[0]!;
  const denominator = r[0];
  for (let e = 0; e < X.length; e++) X[e] = X[e]! / denominator;
  const A = new C(m * m);
  const AA = new C(m * m);
  const BX = new C(m * n);
  for (const triple of coeffs) {
    const [a, b, c] = C.from(triple);
    gram(X, m, n, A);
    // A is symmetric, so A A is A A^T.
    gram(A, m, m, AA);
    for (let e = 0; e < A.length; e++) {
      r[0] = b! * A[e]!;
      r[1] = c! * AA[e]!;
      AA[e] = r[0] + r[1];
    }
    matmul(AA, X, m, m, n, BX);
    const next = new C(m * n);
    for (let e = 0; e < next.length; e++) {
      r[0] = a! * X[e]!;
      next[e] = r[0] + BX[e]!;
    }
    X = next;
  }
  if (!tall) return X;
  const out = new C(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = X[j * rows + i]!;
  return out;
}

/** A leaf's two dimensions, or `SHAPE_MISMATCH` naming it: Muon orthogonalizes matrices only. */
function matrixShape(where: string, shape: readonly number[], path: string | undefined): readonly [number, number] {
  if (shape.length !== 2)
    throw new GradTxError(
      "SHAPE_MISMATCH",
      `${where} orthogonalizes matrices: expected a 2-D ndarray leaf, got shape [${shape.join(",")}] (muon sends the other leaves to AdamW)`,
      path,
    );
  return [shape[0]!, shape[1]!];
}

/** The per-step numbers, in a leaf's dtype. */
interface Scalars {
  readonly beta: number;
  readonly take: number;
  /** `1 - beta^count` and `1 - beta^(count + 1)`. */
  readonly correction: number;
  readonly nextCorrection: number;
}

/**
 * Muon's rescaling (Jordan, 2024, "modded-nanogpt"; Bernstein et al., 2024, "Old Optimizer,
 * New Norm"), as optax.contrib's `scale_by_muon`: momentum, then its Newton–Schulz
 * orthogonalization, for every leaf, each a 2-D ndarray `[fanIn, fanOut]`:
 *
 * ```
 * mu'  = (1 - beta) g + beta mu,     t = count + 1
 * m^   = beta mu' / (1 - beta^(t+1)) + (1 - beta) g / (1 - beta^t)     (nesterov; else mu' / (1 - beta^t))
 * X    = m^ / (||m^||_F + eps)       (a tall matrix transposed, so that X X^T is the smaller)
 * nsSteps times:  X = a X + (b X X^T + c (X X^T)^2) X
 * u    = X                           (adaptive: <m^, X> X)
 * ```
 *
 * The iteration drives every singular value of `m^ / ||m^||` towards 1 (with optax's default
 * coefficients, to somewhere in about [0.7, 1.2]: fast rather than exact). It is matrix
 * arithmetic, so it runs as plain TypeScript between the executor's fused passes. A leaf that
 * is not a 2-D ndarray is `SHAPE_MISMATCH` at `init` (optax raises for it too): use {@link muon},
 * which sends the others to AdamW.
 *
 * **Where gradtx differs from optax.** Every matrix product's element is a float64 sum rounded
 * once to the leaf's dtype (XLA's float32 products accumulate in float32), and the bias
 * corrections are float64, rounded once. The coefficients are not kept in the state; optax's
 * `mu_dtype`, `weight_dimension_numbers` (reshaping other ranks into matrices) and the
 * `"spectral"`, `"aol"` and `"schatten"` preconditionings are not offered.
 *
 * @param options optax's keyword arguments, camelCased; see {@link ScaleByMuonOptions}.
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { scaleByMuon } from "gradtx";
 * // Twenty steps of the classic cubic (1.5, -0.5, 0) make an orthogonal matrix: here a
 * // rotation-free [[3, 0], [0, 1]] becomes the identity.
 * const tx = scaleByMuon({ nsCoeffs: [1.5, -0.5, 0], nsSteps: 20, nesterov: false });
 * const g = ndarray(Float64Array.of(3, 0, 0, 1), [2, 2]);
 * const [u] = tx.update(g, tx.init(g));
 * Array.from((u as { data: Float64Array }).data); // ≈ [1, 0, 0, 1]
 * ```
 * @since 0.3.0
 */
export function scaleByMuon(options: ScaleByMuonOptions | null = {}): GradientTransformation<ScaleByMuonState> {
  const where = "scaleByMuon";
  options = readOptions(where, options, SCALE_BY_MUON_KEYS, {
    hint: "optax's scale_by_muon(ns_coeffs, ns_steps, beta, eps) is scaleByMuon({ nsSteps: 5, beta: 0.95, eps: 1e-8 })",
    aliases: { muDtype: "not offered: the momentum has the params' dtype" },
  });
  const steps = checkNumber(where, "nsSteps", options.nsSteps ?? 5, { min: 1, integer: true });
  const coeffs = nsSchedule(where, options.nsCoeffs ?? MUON_NS_COEFFS, steps);
  const beta = checkNumber(where, "beta", options.beta ?? 0.95, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const nesterov = checkBoolean(where, "nesterov", options.nesterov ?? true);
  const adaptive = checkBoolean(where, "adaptive", options.adaptive ?? false);
  if ((options.preconditioning ?? "frobenius") !== "frobenius")
    invalid(
      where,
      `preconditioning must be "frobenius" (optax's others are not offered), got ${String(options.preconditioning)}`,
    );

  const init = (params: PyTree): ScaleByMuonState => {
    const flat = flatten(params);
    const shapes = shapesRecord(params);
    const paths = leafPaths(flat.def);
    flatten(shapes).leaves.forEach((dims, i) => matrixShape(where, Array.from(dataOf(dims)), paths[i]));
    return {
      count: 0,
      mu: zerosTree(flat),
      shapes,
    };
  };

  const update = (updates: PyTree, state: ScaleByMuonState): readonly [PyTree, ScaleByMuonState] => {
    const flat = flatten(updates);
    const { record, shapes, paths } = readShaped<ScaleByMuonState>(where, state, ["count", "mu", "shapes"], flat);
    const count = stateCount(where, record.count);
    const mus = stateArrays(
      where,
      "mu",
      record.mu,
      shapes.map(([r, c]) => (r ?? 1) * (c ?? 1)),
      paths,
    );
    const t = increment(count);
    const scalarsOf = perDtype((C): Scalars => {
      const [b, take, correction, nextCorrection] = C.of(
        beta,
        1 - beta,
        biasCorrection(beta, t),
        biasCorrection(beta, increment(t)),
      );
      return { beta: b!, take: take!, correction: correction!, nextCorrection: nextCorrection! };
    });
    const out: Leaf[] = [];
    const mu: Leaf[] = [];
    shapes.forEach((shape, i) => {
      const [rows, cols] = matrixShape(where, shape, paths[i]);
      const C = oneDtype(where, paths[i], [mus.data[i]!]);
      const s = scalarsOf(C);
      const g = dataOf(flat.leaves[i]!);
      const m = mus.data[i]!;
      const next = new C(g.length);
      const hat = new C(g.length);
      const r = new C(2);
      for (let e = 0; e < g.length; e++) {
        r[0] = s.take * g[e]!;
        r[1] = s.beta * m[e]!;
        next[e] = r[0] + r[1];
        if (nesterov) {
          r[0] = next[e]! / s.nextCorrection;
          r[0] = s.beta * r[0];
          r[1] = g[e]! / s.correction;
          r[1] = s.take * r[1];
          hat[e] = r[0] + r[1];
        } else hat[e] = next[e]! / s.correction;
      }
      const u = newtonSchulz(C, hat, rows, cols, coeffs, eps);
      if (adaptive) {
        let dot = 0;
        for (let e = 0; e < u.length; e++) dot += hat[e]! * u[e]!;
        r[0] = dot;
        for (let e = 0; e < u.length; e++) u[e] = r[0]! * u[e]!;
      }
      mu.push(asLeafLike(mus.leaves[i]!, next));
      out.push(updateLeaf(flat, i, inDtypeOf(flat.leaves[i]!, u)));
    });
    return [unflatten(flat.def, out), { count: t, mu: unflatten(flat.def, mu), shapes: record.shapes }];
  };
  return barrier("ScaleByMuon", init, update);
}

/**
 * The width scaling optax's `muon` applies after {@link scaleByMuon} (its `scale_by_shape`), per
 * 2-D leaf `[fanIn, fanOut]`: `sqrt(max(1, fanOut / fanIn))`, or with `consistentRms`
 * `sqrt(max(fanIn, fanOut)) * consistentRms`, in float64 and rounded once to the leaf's dtype.
 */
export function scaleByShape(consistentRms: number | null): GradientTransformation<ShapesState> {
  const where = "scaleByShape";
  const init = (params: PyTree): ShapesState => ({ shapes: shapesRecord(params) });
  const update = (updates: PyTree, state: ShapesState): readonly [PyTree, ShapesState] => {
    const flat = flatten(updates);
    const { record, shapes, paths } = readShaped<ShapesState>(where, state, ["shapes"], flat);
    const out = flat.leaves.map((leaf, i) => {
      const [fanIn, fanOut] = matrixShape(where, shapes[i]!, paths[i]);
      const factor =
        consistentRms === null
          ? Math.sqrt(Math.max(1, fanOut / fanIn))
          : Math.sqrt(Math.max(fanIn, fanOut)) * consistentRms;
      const x = dataOf(leaf);
      const y = new (ctorOf(leaf))(x.length);
      const f = y instanceof Float32Array ? Math.fround(factor) : factor;
      for (let e = 0; e < x.length; e++) y[e] = f * x[e]!;
      return updateLeaf(flat, i, y);
    });
    return [unflatten(flat.def, out), record];
  };
  return barrier("ScaleByShape", init, update);
}
