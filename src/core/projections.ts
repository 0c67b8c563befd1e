/**
 * Euclidean projections onto convex sets, over whole pytrees (all leaves together are one
 * vector), as optax's `projections`: for projected gradient descent, `x' = project(x + u)`.
 *
 * Each returns the point of the set nearest to `x`, `argmin_{p in C} ||x - p||_2`, as a tree of
 * `x`'s structure, dtypes and kinds. Where `x` is already in the set and the projection leaves
 * it as it is (the balls, the halfspace), the input tree itself is returned.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import {
  assertSameStructure,
  dataOf,
  flatten,
  leafPaths,
  mapLeaves,
  type AsPyTree,
  type FloatArray,
  type PyTree,
  type PyTreeLike,
} from "./pytree.js";
import { addScale, clip, globalNormOf, norm, scale as scaleTree, vdot } from "./tree.js";
import { checkNumber } from "./validate.js";

/**
 * Projection onto the non-negative orthant, as optax's `projection_non_negative`:
 *
 * `p = max(x, 0)`, elementwise
 *
 * @example
 * ```ts
 * import { projectNonNegative } from "gradtx";
 * projectNonNegative({ w: Float64Array.of(-1, 2, 3) }); // { w: [0, 2, 3] }
 * ```
 * @since 0.3.0
 */
export function projectNonNegative<P extends PyTree | PyTreeLike<P>>(tree: P): P {
  return mapLeaves(tree, (x, out) => {
    // max(-0, 0) is 0 here, as relu's.
    for (let j = 0; j < x.length; j++) out[j] = x[j]! > 0 ? x[j]! : x[j]! === x[j]! ? 0 : x[j]!;
  }) as P;
}

/**
 * Projection onto the box `lower <= p <= upper`, as optax's `projection_box`; each bound is a
 * number or a tree of `tree`'s structure (elementwise bounds):
 *
 * `p = min(max(x, lower), upper)`, elementwise
 *
 * A bound with `lower > upper` (an empty box) throws `INVALID_HYPERPARAMETER`, with the path
 * of the first such element for tree bounds.
 *
 * @example
 * ```ts
 * import { projectBox } from "gradtx";
 * projectBox(Float64Array.of(-1, 2, 3), 0, 2); // [0, 2, 2]
 * projectBox([Float64Array.of(-1, 5)], [Float64Array.of(0, 0)], [Float64Array.of(1, 4)]); // [[0, 4]]
 * ```
 * @since 0.3.0
 */
export function projectBox<P extends PyTree | PyTreeLike<P>, B = PyTree>(
  tree: P,
  lower: number | PyTree | AsPyTree<B>,
  upper: number | PyTree | AsPyTree<B>,
): P {
  const where = "projectBox";
  if (typeof lower === "number" && typeof upper === "number") {
    if (!(checkBound(where, lower) <= checkBound(where, upper)))
      invalidArgument(where, `need lower <= upper, got ${lower} and ${upper}`);
    return clip(tree, lower, upper);
  }
  const x = flatten(tree);
  const bound = (b: unknown): ((i: number) => FloatArray | number) => {
    if (typeof b === "number") {
      checkBound(where, b);
      return () => b;
    }
    const f = flatten(b);
    assertSameStructure(x, f);
    const datas = f.leaves.map(dataOf);
    return (i) => datas[i]!;
  };
  const lo = bound(lower);
  const hi = bound(upper);
  return mapLeaves(tree, (v, out, i) => {
    const l = lo(i);
    const h = hi(i);
    for (let j = 0; j < v.length; j++) {
      const a = typeof l === "number" ? l : l[j]!;
      const b = typeof h === "number" ? h : h[j]!;
      if (!(a <= b))
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `${where}: need lower <= upper, got ${a} and ${b} at element ${j}`,
          leafPaths(x.def)[i],
        );
      out[j] = Math.min(Math.max(v[j]!, a), b);
    }
  }) as P;
}

/** A number bound: anything but NaN (an infinite one leaves that side open). */
function checkBound(where: string, b: number): number {
  if (Number.isNaN(b)) invalidArgument(where, "a bound must be a number, got NaN");
  return b;
}

/** `<a, a>`, refusing a zero normal vector (its hyperplane is no hyperplane). */
function normalSquared(where: string, a: PyTree): number {
  const aa = vdot(a, a);
  if (!(aa > 0)) invalidArgument(where, `a must be a nonzero tree with finite elements, got <a, a> = ${aa}`);
  return aa;
}

/** Throws `INVALID_HYPERPARAMETER` for `where`. */
function invalidArgument(where: string, message: string): never {
  throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: ${message}`);
}

/** The step `(b - <a, x>) / <a, a>` along `a` to the hyperplane `<a, p> = b`, its arguments checked. */
function hyperplaneStep(where: string, x: PyTree, a: PyTree, b: unknown): number {
  if (typeof b !== "number" || !Number.isFinite(b))
    invalidArgument(where, `b must be a finite number, got ${String(b)}`);
  assertSameStructure(flatten(x), flatten(a));
  return (b - vdot(a, x)) / normalSquared(where, a);
}

/**
 * Projection onto the hyperplane `<a, p> = b`, as optax's `projection_hyperplane`; `a` is a
 * nonzero tree of `x`'s structure, `b` a number:
 *
 * `p = x + ((b - <a, x>) / <a, a>) * a`
 *
 * @example
 * ```ts
 * import { projectHyperplane } from "gradtx";
 * // From optax's _projections_test.py: x = (1, 2), a = (3, 4), b = 5 gives (7/25, 26/25).
 * projectHyperplane([Float64Array.of(1), Float64Array.of(2)], [Float64Array.of(3), Float64Array.of(4)], 5); // ≈ [[0.28], [1.04]]
 * ```
 * @since 0.3.0
 */
export function projectHyperplane<P extends PyTree | PyTreeLike<P>, A = PyTree>(
  x: P,
  a: PyTree | AsPyTree<A>,
  b: number,
): P {
  const step = hyperplaneStep("projectHyperplane", x, a, b);
  return addScale(x, step, a);
}

/**
 * Projection onto the halfspace `<a, p> <= b`, as optax's `projection_halfspace`: `x` itself
 * when it is inside, else its projection onto the boundary hyperplane:
 *
 * `p = x + min((b - <a, x>) / <a, a>, 0) * a`
 *
 * @example
 * ```ts
 * import { projectHalfspace } from "gradtx";
 * const a = [Float64Array.of(3), Float64Array.of(4)];
 * projectHalfspace([Float64Array.of(1), Float64Array.of(2)], a, 5); // ≈ [[0.28], [1.04]]
 * projectHalfspace([Float64Array.of(1), Float64Array.of(-2)], a, 5); // [[1], [-2]]: inside, unchanged
 * ```
 * @since 0.3.0
 */
export function projectHalfspace<P extends PyTree | PyTreeLike<P>, A = PyTree>(
  x: P,
  a: PyTree | AsPyTree<A>,
  b: number,
): P {
  const step = hyperplaneStep("projectHalfspace", x, a, b);
  return step >= 0 ? x : addScale(x, step, a);
}

/** Refuses a radius that is not a finite number > 0. */
function checkRadius(where: string, scale: unknown): number {
  return checkNumber(where, "scale", scale, { min: 0, minExclusive: true });
}

/**
 * The threshold `theta` with `sum_j max(v_j - theta, 0) = s`, by sorting (Held, Wolfe and
 * Crowder, 1974): with `u` the values in decreasing order, `theta = (u_1 + ... + u_r - s) / r`
 * for the largest `r` with `u_r > (u_1 + ... + u_r - s) / r`. NaN when a value is NaN.
 */
function simplexThreshold(v: Float64Array, s: number): number {
  const u = v.sort(); // increasing; read from the end
  let cumulative = 0;
  let theta = NaN;
  for (let r = 1; r <= u.length; r++) {
    const value = u[u.length - r]!;
    cumulative += value;
    const t = (cumulative - s) / r;
    // The condition holds for a prefix of the decreasing order: the first failure ends it.
    if (value > t) theta = t;
    else break;
  }
  return theta;
}

/** Every element of every leaf (its absolute value with `absolute`), as one float64 array. */
function gather(datas: readonly FloatArray[], absolute: boolean): Float64Array {
  let n = 0;
  for (const d of datas) n += d.length;
  const out = new Float64Array(n);
  let k = 0;
  for (const d of datas) for (let j = 0; j < d.length; j++) out[k++] = absolute ? Math.abs(d[j]!) : d[j]!;
  return out;
}

/**
 * Projection onto the simplex `p >= 0, sum(p) = scale`, all leaves together, as optax's
 * `projection_simplex` (the probability simplex by default):
 *
 * ```
 * p = max(x - theta, 0),   theta such that sum max(x - theta, 0) = scale
 * ```
 *
 * `theta` is found by sorting the elements (Held, Wolfe and Crowder, 1974; Duchi et al., 2008),
 * in float64; each element is then rounded once to its leaf's dtype. An element of `-Infinity`
 * projects to 0 (optax's edge case); a NaN makes every element NaN.
 *
 * @param scale The sum, > 0. Default 1.
 * @example
 * ```ts
 * import { projectSimplex, tree } from "gradtx";
 * // optax's docstring example: a tree summing to 6.2 projected onto the probability simplex.
 * const p = projectSimplex({ w: Float64Array.of(2.5, 3.2), b: Float64Array.of(0.5) });
 * // p ≈ { b: [0], w: [0.15, 0.85] }
 * tree.sum(p); // ≈ 1
 * ```
 * @since 0.3.0
 */
export function projectSimplex<P extends PyTree | PyTreeLike<P>>(tree: P, scale = 1): P {
  const s = checkRadius("projectSimplex", scale);
  const datas = flatten(tree).leaves.map(dataOf);
  const theta = simplexThreshold(gather(datas, false), s);
  return mapLeaves(tree, (x, out) => {
    for (let j = 0; j < x.length; j++) out[j] = Math.max(x[j]! - theta, 0);
  }) as P;
}

/**
 * Projection onto the L1 ball `||p||_1 <= scale`, as optax's `projection_l1_ball`: `tree`
 * itself when it is inside, else the signs of `x` times the projection of `|x|` onto the
 * simplex of sum `scale`:
 *
 * `p = sign(x) * max(|x| - theta, 0),   theta such that sum max(|x| - theta, 0) = scale`
 *
 * @param scale The radius, > 0. Default 1.
 * @example
 * ```ts
 * import { projectL1Ball, tree } from "gradtx";
 * const p = projectL1Ball({ w: Float64Array.of(2.5, -3.2), b: Float64Array.of(0.5) });
 * // p ≈ { b: [0], w: [0.15, -0.85] }
 * tree.norm(p, { ord: 1 }); // ≈ 1
 * ```
 * @since 0.3.0
 */
export function projectL1Ball<P extends PyTree | PyTreeLike<P>>(tree: P, scale = 1): P {
  const s = checkRadius("projectL1Ball", scale);
  if (norm(tree, { ord: 1 }) <= s) return tree;
  const datas = flatten(tree).leaves.map(dataOf);
  const theta = simplexThreshold(gather(datas, true), s);
  return mapLeaves(tree, (x, out) => {
    for (let j = 0; j < x.length; j++) {
      const shrunk = Math.max(Math.abs(x[j]!) - theta, 0);
      out[j] = x[j]! < 0 ? -shrunk : shrunk;
    }
  }) as P;
}

/**
 * Projection onto the L2 ball `||p||_2 <= scale`, as optax's `projection_l2_ball`: `tree`
 * itself when it is inside, else `tree` scaled down onto the sphere:
 *
 * `p = x * scale / max(||x||_2, scale)`
 *
 * The norm is the compensated, overflow-safe global norm.
 *
 * @param scale The radius, > 0. Default 1.
 * @example
 * ```ts
 * import { projectL2Ball } from "gradtx";
 * projectL2Ball({ a: Float64Array.of(3), b: Float64Array.of(4) }); // ≈ { a: [0.6], b: [0.8] }
 * ```
 * @since 0.3.0
 */
export function projectL2Ball<P extends PyTree | PyTreeLike<P>>(tree: P, scale = 1): P {
  const s = checkRadius("projectL2Ball", scale);
  const length = globalNormOf(flatten(tree).leaves.map(dataOf));
  return length <= s ? tree : scaleTree(s / length, tree);
}

/**
 * Projection onto the L-infinity ball `max |p| <= scale`, as optax's `projection_linf_ball`:
 * every element clipped to `[-scale, scale]`.
 *
 * `p = min(max(x, -scale), scale)`, elementwise
 *
 * @param scale The radius, > 0. Default 1.
 * @example
 * ```ts
 * import { projectLinfBall } from "gradtx";
 * projectLinfBall(Float64Array.of(-3, 0.5, 2)); // [-1, 0.5, 1]
 * ```
 * @since 0.3.0
 */
export function projectLinfBall<P extends PyTree | PyTreeLike<P>>(tree: P, scale = 1): P {
  const s = checkRadius("projectLinfBall", scale);
  return clip(tree, -s, s);
}
