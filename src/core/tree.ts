/**
 * Tree utilities: the leafwise arithmetic and reductions optimizers are made of, exposed for
 * users as `tree.map`, `tree.globalNorm`, and so on.
 *
 * @module
 */
import {
  assertSameStructure,
  ctorOf,
  dataOf,
  flatten,
  isLeaf,
  leafPaths,
  mapLeaves,
  sizeOf,
  unflatten,
  zipLeaves,
  type AsPyTree,
  type FloatArray,
  type Leaf,
  type PyTree,
  type PyTreeLike,
  type TreeDef,
} from "./pytree.js";
import { biasCorrection as correction, treeLike, zerosTree } from "./state.js";
import { GradTxError } from "./errors.js";
import { checkBoolean, checkNumber, readOptions } from "./validate.js";

/**
 * Applies `fn` to every leaf of `tree` (and the matching leaves of `rest`), keeping the
 * structure. `fn` is called once per leaf
 * and must not mutate its arguments.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * const doubled = tree.map((x) => (x as Float64Array).map((v) => 2 * v), { a: Float64Array.of(1, 2) });
 * // doubled = { a: [2, 4] }
 * ```
 * @since 0.1.0
 */
export function map<T>(
  fn: (leaf: Leaf, ...rest: Leaf[]) => Leaf,
  tree: PyTree | AsPyTree<T>,
  ...rest: (PyTree | AsPyTree<T>)[]
): PyTree {
  if (typeof fn !== "function")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `tree.map: the first argument must be a function of the leaves, got ${typeof fn} (tree.map(fn, tree))`,
    );
  const main = flatten(tree);
  const others = rest.map((t) => {
    const f = flatten(t);
    assertSameStructure(main, f);
    return f.leaves;
  });
  return unflatten(
    main.def,
    main.leaves.map((leaf, i) => {
      const out: unknown = fn(leaf, ...others.map((o) => o[i]!));
      if (!isLeaf(out))
        throw new GradTxError(
          "NOT_A_PYTREE",
          "tree.map: fn must return a leaf (a Float32Array, Float64Array or ndarray)",
          leafPaths(main.def)[i],
        );
      return out;
    }),
  );
}

/**
 * The leaves of a tree in canonical order (object keys sorted, arrays in order).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.leaves({ w: Float64Array.of(1), b: Float64Array.of(2) }); // [[2], [1]]: b before w, keys sorted
 * ```
 * @since 0.1.0
 */
export function leaves<T>(tree: PyTree | AsPyTree<T>): Leaf[] {
  return flatten(tree).leaves.slice();
}

/**
 * The structure of a tree without its leaves, for comparing two trees.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.structure({ w: Float64Array.of(1) }); // { kind: "object", keys: ["w"], children: [{ kind: "leaf" }] }
 * ```
 * @since 0.1.0
 */
export function structure<T>(tree: PyTree | AsPyTree<T>): TreeDef {
  return flatten(tree).def;
}

/**
 * A tree of zeros with the structure, dtypes and shapes of `tree` (an ndarray leaf gives a dense
 * ndarray of its shape), as optax's `tree_zeros_like`.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.zerosLike({ w: new Float32Array(3) }); // { w: Float32Array.of(0, 0, 0) }
 * ```
 * @since 0.1.0
 */
export function zerosLike<P extends PyTree | PyTreeLike<P>>(tree: P): P {
  return zerosTree(flatten(tree)) as P;
}

/**
 * Leafwise sum `a + b`, in `a`'s dtypes and kinds.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.add(Float64Array.of(1, 2), Float64Array.of(10, 20)); // [11, 22]
 * ```
 * @since 0.1.0
 */
export function add<P extends PyTree | PyTreeLike<P>, Q = PyTree>(a: P, b: PyTree | AsPyTree<Q>): P {
  return zipLeaves(a, b, (x, y, out) => {
    for (let j = 0; j < x.length; j++) out[j] = x[j]! + y[j]!;
  }) as P;
}

/**
 * Leafwise difference `a - b`, in `a`'s dtypes and kinds.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.sub(Float64Array.of(1, 2), Float64Array.of(10, 20)); // [-9, -18]
 * ```
 * @since 0.1.0
 */
export function sub<P extends PyTree | PyTreeLike<P>, Q = PyTree>(a: P, b: PyTree | AsPyTree<Q>): P {
  return zipLeaves(a, b, (x, y, out) => {
    for (let j = 0; j < x.length; j++) out[j] = x[j]! - y[j]!;
  }) as P;
}

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a number. */
function checkScalar(where: string, name: string, value: unknown, usage: string): number {
  if (typeof value !== "number")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `tree.${where}: ${name} must be a number, got ${typeof value} (${usage})`,
    );
  return value;
}

/**
 * Multiplies every element by `factor`.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.scale(0.5, Float64Array.of(2, 4)); // [1, 2]
 * ```
 * @since 0.1.0
 */
export function scale<P extends PyTree | PyTreeLike<P>>(factor: number, tree: P): P {
  checkScalar("scale", "factor", factor, "tree.scale(factor, tree)");
  return mapLeaves(tree, (x, out) => {
    for (let j = 0; j < x.length; j++) out[j] = factor * x[j]!;
  }) as P;
}

/**
 * Compensated sum of `x[j] * y[j]` over many arrays: each addition's rounding error is
 * recovered exactly (Knuth's branch-free TwoSum) and added back at the end, so the result is
 * within a few roundings however many elements and leaves there are. Two interleaved
 * accumulators keep the two dependency chains busy at once.
 */
function dotAll(xs: readonly FloatArray[], ys: readonly FloatArray[], scaleBy = 1): number {
  let s0 = 0;
  let c0 = 0;
  let s1 = 0;
  let c1 = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    const n = x.length;
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const a = x[j]! * scaleBy * (y[j]! * scaleBy);
      const t0 = s0 + a;
      const z0 = t0 - s0;
      c0 += s0 - (t0 - z0) + (a - z0);
      s0 = t0;
      const b = x[j + 1]! * scaleBy * (y[j + 1]! * scaleBy);
      const t1 = s1 + b;
      const z1 = t1 - s1;
      c1 += s1 - (t1 - z1) + (b - z1);
      s1 = t1;
    }
    if (j < n) {
      const a = x[j]! * scaleBy * (y[j]! * scaleBy);
      const t0 = s0 + a;
      const z0 = t0 - s0;
      c0 += s0 - (t0 - z0) + (a - z0);
      s0 = t0;
    }
  }
  const t = s0 + s1;
  const z = t - s0;
  return t + (c0 + c1 + (s0 - (t - z) + (s1 - z)));
}

/**
 * The inner product `sum(a * b)` over all elements of all leaves, with compensated summation.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.vdot({ a: Float64Array.of(1, 2) }, { a: Float64Array.of(3, 4) }); // 11
 * ```
 * @since 0.1.0
 */
export function vdot<A, B>(a: PyTree | AsPyTree<A>, b: PyTree | AsPyTree<B>): number {
  const fa = flatten(a);
  const fb = flatten(b);
  assertSameStructure(fa, fb);
  return dotAll(fa.leaves.map(dataOf), fb.leaves.map(dataOf));
}

/** The global norm of dense leaves; compensated, and rescaled when the squares would overflow. */
export function globalNormOf(datas: readonly FloatArray[]): number {
  const sumSquares = dotAll(datas, datas);
  if (Number.isFinite(sumSquares)) return Math.sqrt(sumSquares);
  // Not finite: a NaN or an infinity in the input, or squares that overflowed. Only the last
  // has a finite norm, found by rescaling with a power of two (exact) near the largest element.
  let largest = 0;
  for (const d of datas)
    for (let j = 0; j < d.length; j++) {
      const a = Math.abs(d[j]!);
      if (Number.isNaN(a)) return NaN;
      if (a > largest) largest = a;
    }
  if (largest === Infinity) return Infinity;
  const factor = 2 ** -Math.ceil(Math.log2(largest));
  return Math.sqrt(dotAll(datas, datas, factor)) / factor;
}

/**
 * The global (Euclidean) norm `sqrt(sum of squares)` over every element of every leaf, as
 * optax's `global_norm`; summed with compensation so that it stays accurate over many leaves,
 * and without overflow for large elements.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.globalNorm({ a: Float64Array.of(3), b: Float64Array.of(4) }); // 5
 * ```
 * @since 0.1.0
 */
export function globalNorm<T>(tree: PyTree | AsPyTree<T>): number {
  return globalNormOf(flatten(tree).leaves.map(dataOf));
}

/**
 * Whether every element of every leaf is finite (no NaN, no ±Infinity).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.allFinite({ a: Float64Array.of(1, NaN) }); // false
 * ```
 * @since 0.1.0
 */
export function allFinite<T>(tree: PyTree | AsPyTree<T>): boolean {
  for (const leaf of flatten(tree).leaves) {
    const d = dataOf(leaf);
    // x - x is 0 for finite x and NaN otherwise: one branch-free test per element.
    let acc = 0;
    for (let j = 0; j < d.length; j++) acc += d[j]! - d[j]!;
    if (acc !== 0) return false;
  }
  return true;
}

/**
 * A tree with the structure, dtypes and shapes of `tree` (an ndarray leaf gives a dense ndarray
 * of its shape), every element `value` rounded to the leaf's dtype: optax's `tree_full_like`.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.fullLike({ w: new Float32Array(2) }, 0.5); // { w: Float32Array.of(0.5, 0.5) }
 * ```
 * @since 0.3.0
 */
export function fullLike<P extends PyTree | PyTreeLike<P>>(tree: P, value: number): P {
  checkScalar("fullLike", "value", value, "tree.fullLike(tree, value)");
  const f = flatten(tree);
  return treeLike(
    f,
    f.leaves.map((leaf) => new (ctorOf(leaf))(sizeOf(leaf)).fill(value)),
  ) as P;
}

/**
 * A tree of ones with the structure, dtypes and shapes of `tree`: optax's `tree_ones_like`.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.onesLike({ w: new Float64Array(2) }); // { w: Float64Array.of(1, 1) }
 * ```
 * @since 0.3.0
 */
export function onesLike<P extends PyTree | PyTreeLike<P>>(tree: P): P {
  return fullLike(tree, 1);
}

/**
 * Leafwise product `a * b`, in `a`'s dtypes and kinds.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.mul(Float64Array.of(1, 2), Float64Array.of(10, 20)); // [10, 40]
 * ```
 * @since 0.3.0
 */
export function mul<P extends PyTree | PyTreeLike<P>, Q = PyTree>(a: P, b: PyTree | AsPyTree<Q>): P {
  return zipLeaves(a, b, (x, y, out) => {
    for (let j = 0; j < x.length; j++) out[j] = x[j]! * y[j]!;
  }) as P;
}

/**
 * Leafwise quotient `a / b`, in `a`'s dtypes and kinds (IEEE division: `x / 0` is ±Infinity or NaN).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.div(Float64Array.of(1, 2), Float64Array.of(4, 0)); // [0.25, Infinity]
 * ```
 * @since 0.3.0
 */
export function div<P extends PyTree | PyTreeLike<P>, Q = PyTree>(a: P, b: PyTree | AsPyTree<Q>): P {
  return zipLeaves(a, b, (x, y, out) => {
    for (let j = 0; j < x.length; j++) out[j] = x[j]! / y[j]!;
  }) as P;
}

/**
 * `a + scalar * b`, leafwise, in `a`'s dtypes and kinds: optax's `tree_add_scale`. A float32
 * leaf rounds the product to float32 before the sum (no fused multiply-add, as the executor).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.addScale(Float64Array.of(1, 2), -0.5, Float64Array.of(2, 2)); // [0, 1]
 * ```
 * @since 0.3.0
 */
export function addScale<P extends PyTree | PyTreeLike<P>, Q = PyTree>(
  a: P,
  scalar: number,
  b: PyTree | AsPyTree<Q>,
): P {
  const s = checkScalar("addScale", "scalar", scalar, "tree.addScale(a, scalar, b)");
  const s32 = Math.fround(s);
  return zipLeaves(a, b, (x, y, out) => {
    if (out instanceof Float32Array) for (let j = 0; j < x.length; j++) out[j] = x[j]! + Math.fround(s32 * y[j]!);
    else for (let j = 0; j < x.length; j++) out[j] = x[j]! + s * y[j]!;
  }) as P;
}

/**
 * Neumaier-compensated sum of `f(x[j])` over every element of `datas`, for `f` the identity or
 * the absolute value: within a few roundings however many elements there are.
 */
function sumAll(datas: readonly FloatArray[], absolute: boolean): number {
  let s = 0;
  let c = 0;
  for (const d of datas)
    for (let j = 0; j < d.length; j++) {
      const x = absolute ? Math.abs(d[j]!) : d[j]!;
      const t = s + x;
      c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
      s = t;
    }
  // Past an infinity the compensation is NaN (Infinity - Infinity); the sum alone is right then.
  return Number.isFinite(s) ? s + c : s;
}

/**
 * The sum of every element of every leaf, compensated (Neumaier), as optax's `tree_sum`; 0 for
 * a tree without elements.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.sum({ a: Float64Array.of(1, 2), b: Float32Array.of(0.5) }); // 3.5
 * ```
 * @since 0.3.0
 */
export function sum<T>(tree: PyTree | AsPyTree<T>): number {
  return sumAll(flatten(tree).leaves.map(dataOf), false);
}

/** The largest (`sign` 1) or smallest (`sign` -1) element, NaN if any is NaN. */
function extreme(datas: readonly FloatArray[], sign: 1 | -1, absolute: boolean): number {
  let best = -Infinity;
  for (const d of datas)
    for (let j = 0; j < d.length; j++) {
      const x = absolute ? Math.abs(d[j]!) : sign * d[j]!;
      if (x > best) best = x;
      else if (x !== x) return NaN;
    }
  return sign * best;
}

/**
 * The largest element of every leaf (NaN if any is NaN), as optax's `tree_max`; `-Infinity`
 * for a tree without elements.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.max({ a: Float64Array.of(1, -2), b: Float32Array.of(0.5) }); // 1
 * ```
 * @since 0.3.0
 */
export function max<T>(tree: PyTree | AsPyTree<T>): number {
  return extreme(flatten(tree).leaves.map(dataOf), 1, false);
}

/**
 * The smallest element of every leaf (NaN if any is NaN), as optax's `tree_min`; `Infinity`
 * for a tree without elements.
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.min({ a: Float64Array.of(1, -2), b: Float32Array.of(0.5) }); // -2
 * ```
 * @since 0.3.0
 */
export function min<T>(tree: PyTree | AsPyTree<T>): number {
  return extreme(flatten(tree).leaves.map(dataOf), -1, false);
}

/**
 * The number of elements of all leaves together, as optax's `tree_size`.
 *
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { tree } from "gradtx";
 * tree.size({ w: ndarray(new Float32Array(6), [2, 3]), b: new Float32Array(3) }); // 9
 * ```
 * @since 0.3.0
 */
export function size<T>(tree: PyTree | AsPyTree<T>): number {
  let n = 0;
  for (const leaf of flatten(tree).leaves) n += sizeOf(leaf);
  return n;
}

/** Options of {@link norm}. @since 0.3.0 */
export interface NormOptions {
  /** Which norm: 1 (the sum of absolute values), 2 (Euclidean) or `Infinity` (the largest absolute value). Default 2. */
  readonly ord?: 1 | 2 | typeof Infinity;
  /** Return the norm squared. Default false. */
  readonly squared?: boolean;
}

/**
 * The vector norm of all elements of all leaves together, as optax's `tree_norm`:
 *
 * ```
 * ord 1:         sum |x|
 * ord 2:         sqrt(sum x^2)           (the global norm; squared: sum x^2)
 * ord Infinity:  max |x|
 * ```
 *
 * and with `squared`, that number squared. Sums are compensated; ord 2 does not overflow for
 * large elements (it rescales, as {@link globalNorm}).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * const t = { a: Float64Array.of(3, -4) };
 * tree.norm(t); // 5
 * tree.norm(t, { ord: 1 }); // 7
 * tree.norm(t, { ord: Infinity, squared: true }); // 16
 * ```
 * @since 0.3.0
 */
export function norm<T>(tree: PyTree | AsPyTree<T>, options?: NormOptions | null): number {
  const where = "tree.norm";
  options = readOptions(where, options, ["ord", "squared"], {
    hint: "optax's tree_norm(tree, ord, squared) is tree.norm(tree, { ord, squared })",
  });
  const ord = options.ord ?? 2;
  if (ord !== 1 && ord !== 2 && ord !== Infinity)
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: ord must be 1, 2 or Infinity, got ${String(ord)}`);
  const squared = checkBoolean(where, "squared", options.squared ?? false);
  const datas = flatten(tree).leaves.map(dataOf);
  if (ord === 2) return squared ? dotAll(datas, datas) : globalNormOf(datas);
  const value = ord === 1 ? sumAll(datas, true) : Math.max(0, extreme(datas, 1, true));
  return squared ? value * value : value;
}

/**
 * `a` if `condition` holds, else `b`, as optax's `tree_where` with a scalar condition; the two
 * trees must have one structure. The chosen tree itself is returned (leaves are never mutated,
 * so sharing them is safe).
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.where(false, Float64Array.of(1), Float64Array.of(2)); // [2]
 * ```
 * @since 0.3.0
 */
export function where<A extends PyTree | PyTreeLike<A>, B extends PyTree | PyTreeLike<B>>(
  condition: boolean,
  a: A,
  b: B,
): A | B {
  checkBoolean("tree.where", "condition", condition);
  assertSameStructure(flatten(a), flatten(b));
  return condition ? a : b;
}

/**
 * Every element clamped to `[minValue, maxValue]`, as optax's `tree_clip`; `null` or
 * `undefined` leaves that side open. NaN stays NaN.
 *
 * `clip(x) = min(max(x, minValue), maxValue)`
 *
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.clip(Float64Array.of(-3, 0.5, 2), -1, 1); // [-1, 0.5, 1]
 * tree.clip(Float64Array.of(-3, 0.5, 2), 0); // [0, 0.5, 2]
 * ```
 * @since 0.3.0
 */
export function clip<P extends PyTree | PyTreeLike<P>>(tree: P, minValue?: number | null, maxValue?: number | null): P {
  const lo = minValue ?? -Infinity;
  const hi = maxValue ?? Infinity;
  checkScalar("clip", "minValue", lo, "tree.clip(tree, minValue, maxValue)");
  checkScalar("clip", "maxValue", hi, "tree.clip(tree, minValue, maxValue)");
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi)
    throw new GradTxError("INVALID_HYPERPARAMETER", `tree.clip: need minValue <= maxValue, got ${lo} and ${hi}`);
  return mapLeaves(tree, (x, out) => {
    for (let j = 0; j < x.length; j++) out[j] = Math.min(Math.max(x[j]!, lo), hi);
  }) as P;
}

/**
 * The exponential moving average of the `order`-th power of the updates, as optax's
 * `tree_update_moment`, in the moments' dtypes and kinds:
 *
 * `moment' = (1 - decay) * update^order + decay * moment`
 *
 * A float32 moment rounds every operation to float32, `1 - decay` and `decay` once.
 *
 * @param decay In [0, 1].
 * @param order The power, e.g. 1 for the mean, 2 for the uncentred variance.
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.updateMoment(Float64Array.of(2), Float64Array.of(1), 0.5, 2); // [2.5]
 * ```
 * @since 0.3.0
 */
export function updateMoment<P extends PyTree | PyTreeLike<P>, Q = PyTree>(
  updates: PyTree | AsPyTree<Q>,
  moments: P,
  decay: number,
  order: number,
): P {
  checkNumber("tree.updateMoment", "decay", decay, { min: 0, max: 1 });
  checkNumber("tree.updateMoment", "order", order);
  const keep = decay;
  const take = 1 - decay;
  const keep32 = Math.fround(keep);
  const take32 = Math.fround(take);
  // The moments lead: the result is in their dtypes and kinds.
  return zipLeaves(moments, updates, (t, g, out) => {
    const n = t.length;
    if (out instanceof Float32Array)
      for (let j = 0; j < n; j++)
        out[j] = Math.fround(take32 * Math.fround(g[j]! ** order)) + Math.fround(keep32 * t[j]!);
    else for (let j = 0; j < n; j++) out[j] = take * g[j]! ** order + keep * t[j]!;
  }) as P;
}

/**
 * Adam's bias correction of a moment, as optax's `tree_bias_correction`:
 *
 * `moment / (1 - decay^count)`
 *
 * The divisor is computed in float64 (as `-expm1(count * log(decay))`, without the cancellation
 * of `1 - decay^count`) and rounded once to each leaf's dtype. At `count = 0` it is 0, and the
 * quotient infinite or NaN, as in optax.
 *
 * @param decay In [0, 1].
 * @param count The number of moment updates so far, an integer >= 0.
 * @example
 * ```ts
 * import { tree } from "gradtx";
 * tree.biasCorrection(Float64Array.of(0.1), 0.9, 1); // ≈ [1]: 0.1 / (1 - 0.9)
 * ```
 * @since 0.3.0
 */
export function biasCorrection<P extends PyTree | PyTreeLike<P>>(moment: P, decay: number, count: number): P {
  checkNumber("tree.biasCorrection", "decay", decay, { min: 0, max: 1 });
  checkNumber("tree.biasCorrection", "count", count, { min: 0, integer: true });
  const divisor = decay === 0 ? (count === 0 ? 0 : 1) : correction(decay, count);
  const divisor32 = Math.fround(divisor);
  return mapLeaves(moment, (x, out) => {
    const d = out instanceof Float32Array ? divisor32 : divisor;
    for (let j = 0; j < x.length; j++) out[j] = x[j]! / d;
  }) as P;
}

export { get, set } from "./tree-fields.js";
