/**
 * Tree utilities: the leafwise arithmetic and reductions optimizers are made of, exposed for
 * users as `tree.map`, `tree.globalNorm`, and so on.
 *
 * @module
 */
import {
  asLeafLike,
  assertSameStructure,
  ctorOf,
  dataOf,
  flatten,
  isLeaf,
  leafPaths,
  unflatten,
  zipLeaves,
  type AsPyTree,
  type FloatArray,
  type Leaf,
  type PyTree,
  type PyTreeLike,
  type TreeDef,
} from "./pytree.js";
import { zerosTree } from "./state.js";
import { GradTxError } from "./errors.js";

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
  if (typeof factor !== "number")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `tree.scale: factor must be a number, got ${typeof factor} (tree.scale(factor, tree))`,
    );
  const f = flatten(tree);
  return unflatten(
    f.def,
    f.leaves.map((leaf) => {
      const x = dataOf(leaf);
      const out = new (ctorOf(leaf))(x.length);
      for (let j = 0; j < x.length; j++) out[j] = factor * x[j]!;
      return asLeafLike(leaf, out);
    }),
  ) as P;
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
