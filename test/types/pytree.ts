// Type tests, checked by `tsc` (never run): here against the source, and by
// test/smoke/pack-smoke.mjs against the published declarations from a strict consumer project
// with no ndarray or Node type package. An `@ts-expect-error` marks what must not compile.
import type { FloatNdArray, Leaf, PyTree } from "gradtx";

// Leaves: float typed arrays, and anything shaped like an ndarray over one.
const nd: FloatNdArray<Float32Array> = {
  data: new Float32Array(6),
  shape: [2, 3],
  stride: [3, 1],
  offset: 0,
  size: 6,
};
export const leaves: Leaf[] = [new Float32Array(2), Float64Array.of(1), nd];
export const tree: PyTree = { layers: [{ w: nd, b: new Float32Array(3) }], scale: Float64Array.of(1), none: null };

// What a tree must not hold. Each would compile if PyTree were `any`.
// @ts-expect-error a string is not a pytree
export const text: PyTree = { x: "hello" };
// @ts-expect-error a number is not a leaf: use Float64Array.of(x)
export const scalar: PyTree = { x: 1 };
// @ts-expect-error an Int32Array is not a float leaf
export const ints: PyTree = { x: new Int32Array(2) };
// @ts-expect-error an ndarray over an Int32Array is not a leaf
export const intNd: Leaf = { ...nd, data: new Int32Array(6) };
