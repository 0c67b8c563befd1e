/**
 * What the transformations that read a leaf's shape share (factored second moments, SM3's
 * per-axis accumulators, gradient centralization, Muon's orthogonalization): they are not
 * elementwise, so each is plain TypeScript that the executor runs as a barrier, with one tight
 * loop per leaf. Here: the state's record of the params' shapes and its checks, reductions over
 * one axis, and the rounding of a float32 leaf's arithmetic.
 *
 * A leaf's shape is the shape the params had at `init` (an ndarray's shape; a typed array is a
 * vector). Each step checks the updates against that record, so a leaf whose shape changed is
 * `SHAPE_MISMATCH` with its path. Arithmetic runs in the dtype of the params (the state's
 * arrays): each operation's result is stored into an array of that dtype (a `Float32Array`
 * rounds it, as XLA's float32 arithmetic does), and sums over many elements are float64, each
 * result rounded once.
 *
 * @module
 */
import ndarray from "ndarray";
import { GradTxError } from "../core/errors.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  flatten,
  leafPaths,
  shapesOf,
  type Flat,
  type FloatArray,
  type FloatNdArray,
  type Leaf,
  type PyTree,
} from "../core/pytree.js";
import { checkShapes, stateRecord } from "../core/state.js";

/** A typed-array constructor of the two dtypes. */
export type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

/** The constructor of `a`'s dtype. */
export const ctorOfArray = (a: FloatArray): FloatCtor => (a instanceof Float32Array ? Float32Array : Float64Array);

/** `make(C)` for each dtype `C` a step meets, computed once per step and dtype (the per-step numbers, rounded to it). */
export function perDtype<T>(make: (C: FloatCtor) => T): (C: FloatCtor) => T {
  const made = new Map<FloatCtor, T>();
  return (C) => {
    let t = made.get(C);
    if (t === undefined) {
      t = make(C);
      made.set(C, t);
    }
    return t;
  };
}

/** A leaf over row-major `data` of `shape`: a typed array for a vector, else an ndarray. */
export function leafOfShape(data: FloatArray, shape: readonly number[]): Leaf {
  return shape.length === 1 ? data : (ndarray(data, shape.slice()) as FloatNdArray);
}

/** The record of the params' shapes a state keeps (see {@link readShaped}). */
export const shapesRecord = (params: PyTree): PyTree => shapesOf(flatten(params));

/** A state read by {@link readShaped}: the record's shapes, one per leaf, and the leaves' paths. */
export interface Shaped {
  readonly shapes: readonly (readonly number[])[];
  readonly paths: readonly string[];
}

/**
 * Reads a barrier's state record (`BAD_STATE` if it is not one, naming the keys) and checks the
 * updates against its `shapes` record: another structure is `STRUCTURE_MISMATCH`, a leaf of
 * another shape `SHAPE_MISMATCH`, both with the path.
 */
export function readShaped<T extends object>(
  where: string,
  state: unknown,
  keys: readonly (keyof T & string)[],
  updates: Flat,
): { readonly record: T } & Shaped {
  const record = stateRecord<T>(where, state, keys);
  const recorded = (record as { shapes?: unknown }).shapes;
  checkShapes(`${where}.shapes`, recorded, updates);
  const shapes = flatten(recorded).leaves.map((dims) => Array.from(dataOf(dims)));
  return { record, shapes, paths: leafPaths(updates.def) };
}

/**
 * The leaves of the state tree `name` as dense arrays, each checked to hold `sizes[i]` elements
 * of one dtype (`BAD_STATE` naming the leaf otherwise).
 */
export function stateArrays(
  where: string,
  name: string,
  tree: unknown,
  sizes: readonly number[],
  paths: readonly string[],
): { readonly leaves: readonly Leaf[]; readonly data: readonly FloatArray[] } {
  let flat: Flat;
  try {
    flat = flatten(tree);
  } catch (e) {
    if (e instanceof GradTxError)
      throw new GradTxError("BAD_STATE", `${where}: ${name} is not a pytree (${e.message})`);
    throw e;
  }
  if (flat.leaves.length !== sizes.length)
    throw new GradTxError(
      "BAD_STATE",
      `${where}: ${name} has ${flat.leaves.length} leaves, the params ${sizes.length} (is it the state of another tree?)`,
    );
  const data = flat.leaves.map((leaf, i) => {
    const d = dataOf(leaf);
    if (d.length !== sizes[i])
      throw new GradTxError(
        "BAD_STATE",
        `${where}: ${name} holds ${d.length} elements for this leaf, expected ${sizes[i]}`,
        paths[i],
      );
    return d;
  });
  return { leaves: flat.leaves, data };
}

/** Throws `BAD_STATE` unless every array has the dtype of the first. */
export function oneDtype(where: string, path: string | undefined, arrays: readonly FloatArray[]): FloatCtor {
  const ctor = ctorOfArray(arrays[0]!);
  if (arrays.some((a) => ctorOfArray(a) !== ctor))
    throw new GradTxError("BAD_STATE", `${where}: the state's arrays for this leaf mix float32 and float64`, path);
  return ctor;
}

/** `shape` without the axis `axis`. */
export const withoutAxis = (shape: readonly number[], axis: number): number[] => shape.filter((_, i) => i !== axis);

/** The product of `shape[from .. to)`, 1 for an empty range. */
export function sizeBetween(shape: readonly number[], from: number, to: number): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/**
 * The mean over the middle axis of `x` read as `[outer, n, inner]` (row-major), into `out`
 * (`outer * inner` elements): each sum in float64, divided by `n` and rounded once to `out`'s
 * dtype. (XLA sums a float32 mean in float32, in an order of its own: the two may differ in the
 * last bits; a float64 sum is the order-independent answer to within one rounding.)
 */
export function meanMiddle(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void {
  const sums = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let k = 0; k < n; k++) {
      const from = (o * n + k) * inner;
      const to = o * inner;
      for (let j = 0; j < inner; j++) sums[to + j] = sums[to + j]! + x[from + j]!;
    }
  for (let i = 0; i < sums.length; i++) out[i] = sums[i]! / n;
}

/**
 * `data`, computed in the state's dtype, in the dtype of the update leaf `like`: itself, or a
 * copy (a float64 result rounded once to a float32 update).
 */
export function inDtypeOf(like: Leaf, data: FloatArray): FloatArray {
  const C = ctorOf(like);
  return data instanceof C ? data : new C(data);
}

/** The updates' leaf `i` over `data`, of the kind the updates have (an ndarray of their shape, or a typed array). */
export function updateLeaf(updates: Flat, i: number, data: FloatArray): Leaf {
  return asLeafLike(updates.leaves[i]!, data);
}
