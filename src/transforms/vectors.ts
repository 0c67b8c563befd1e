/**
 * Vector arithmetic over the dense leaves of a tree, for the transformations that are not
 * elementwise (L-BFGS and the line searches): one tight loop per leaf, each leaf in its dtype.
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import { ctorOf, dataOf, flattenLike, sizeOf, type Flat, type FloatArray, type PyTree } from "../core/pytree.js";
import { stateRecord, stateTree } from "../core/state.js";
import { vdot } from "../core/tree.js";

/** Dense leaves: one row-major array per leaf, in a tree's canonical order. */
export type Vector = readonly FloatArray[];

/** `sum(x * y)` over every element, summed in float64 with compensation. */
export function dot(x: Vector, y: Vector): number {
  return vdot(x as FloatArray[], y as FloatArray[]);
}

/**
 * `x + s * y`, in `x`'s dtypes: a float32 leaf rounds the product, then the sum, to float32. The
 * scalar is not rounded to float32 first: L-BFGS's scalars (`rho <dw, v>`) are beyond float32's
 * range when the differences are tiny, though their products with those differences are not.
 */
export function axpy(x: Vector, s: number, y: Vector): FloatArray[] {
  return x.map((a, i) => {
    const b = y[i]!;
    const out = new (a instanceof Float32Array ? Float32Array : Float64Array)(a.length);
    if (out instanceof Float32Array) for (let j = 0; j < a.length; j++) out[j] = a[j]! + Math.fround(s * b[j]!);
    else for (let j = 0; j < a.length; j++) out[j] = a[j]! + s * b[j]!;
    return out;
  });
}

/** `s * x`, in `x`'s dtypes (a float32 leaf rounds each product to float32). */
export function scaled(s: number, x: Vector): FloatArray[] {
  return x.map((leaf) => {
    const out = new (leaf instanceof Float32Array ? Float32Array : Float64Array)(leaf.length);
    for (let j = 0; j < leaf.length; j++) out[j] = s * leaf[j]!;
    return out;
  });
}

/** `x - y`, in `x`'s dtypes. */
export function minus(x: Vector, y: Vector): FloatArray[] {
  return axpy(x, -1, y);
}

/** Copies of `x`'s leaves in the dtypes of `like`'s leaves (a fresh array each, sharing nothing). */
export function inDtypesOf(like: Flat, x: Vector): FloatArray[] {
  return like.leaves.map((leaf, i) => new (ctorOf(leaf))(x[i]!));
}

/** Zeros in the dtypes and lengths of `like`'s leaves. */
export function zerosOf(like: Flat): FloatArray[] {
  return like.leaves.map((leaf) => new (ctorOf(leaf))(sizeOf(leaf)));
}

/** The dense leaves of a flattened tree. */
export function vectorOf(flat: Flat): FloatArray[] {
  return flat.leaves.map(dataOf);
}

/** A state's tree, checked against the updates (`BAD_STATE`, or a mismatch with its path), as dense leaves. */
export function stateVector(where: string, tree: unknown, updates: Flat): FloatArray[] {
  return vectorOf(stateTree(where, tree, updates));
}

/** A state record's number, or `BAD_STATE` naming it. */
export function stateNumber(where: string, name: string, value: unknown): number {
  if (typeof value !== "number")
    throw new GradTxError(
      "BAD_STATE",
      `${where}: ${name} must be a number, got ${value === null ? "null" : typeof value}`,
    );
  return value;
}

/** Reads a record of numbers from a state (`info`), or throws `BAD_STATE`. */
export function stateNumbers<K extends string>(where: string, record: unknown, keys: readonly K[]): void {
  const r = stateRecord<Record<K, unknown>>(where, record, keys);
  for (const key of keys) stateNumber(where, key, r[key]);
}

/**
 * A function of the params the caller gave in `extra`, called at `point`: `valueFn` must give a
 * number, `gradFn` a tree of the updates' structure (its dense leaves, copied into the params'
 * dtypes, are returned).
 */
export function valueAt(where: string, valueFn: (p: PyTree) => number, point: PyTree): number {
  const value: unknown = valueFn(point);
  if (typeof value !== "number")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: extra.valueFn must return a number (the loss at the params it is given), got ${value === null ? "null" : typeof value}`,
    );
  return value;
}

/** `gradFn(point)`, checked against the updates' structure, as dense leaves in the params' dtypes. */
export function gradAt(
  where: string,
  gradFn: (p: PyTree) => PyTree,
  point: PyTree,
  updates: Flat,
  params: Flat,
): FloatArray[] {
  const g = gradFn(point);
  let flat: Flat;
  try {
    flat = flattenLike(updates, g);
  } catch (e) {
    if (e instanceof GradTxError)
      throw new GradTxError(e.code, `${where}: extra.gradFn returned a tree unlike the updates: ${e.message}`, e.path);
    throw e;
  }
  return inDtypesOf(params, vectorOf(flat));
}
