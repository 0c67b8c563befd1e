import ndarray from "ndarray";
import ops from "ndarray-ops";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { adam, applyUpdates, GradTxError, sgd, tree, type PyTree } from "../src/index.js";
import { expectBitEqual, values } from "./helpers.js";

describe("pytrees: the data model", () => {
  test.prop([fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }), fc.nat()])(
    "any insertion order of the same keys gives the same leaves and the same Adam step",
    (keys, rotation) => {
      const entries = keys.map((k, i) => [k, Float64Array.of(i + 1, -i)] as const);
      const rotated = entries.map((_, i) => entries[(i + rotation) % entries.length]!);
      const a = Object.fromEntries(entries) as PyTree;
      const b = Object.fromEntries(rotated) as PyTree;
      const opt = adam(0.1);
      expectBitEqual(opt.update(a, opt.init(a), a)[0], opt.update(b, opt.init(b), b)[0]);
    },
  );

  test.prop([fc.uniqueArray(fc.oneof(fc.string({ maxLength: 3 }), fc.nat(20).map(String)), { maxLength: 12 })])(
    "leaves come in the order of the keys sorted by code unit, whatever order the object lists them in",
    (keys) => {
      const obj = Object.fromEntries(keys.map((k, i) => [k, Float64Array.of(i)])) as PyTree;
      const byKey = new Map(keys.map((k, i) => [k, i]));
      const expected = [...keys].sort().map((k) => byKey.get(k));
      expect(tree.leaves(obj).map((l) => (l as Float64Array)[0])).toEqual(expected);
    },
  );

  it("reads an object's own enumerable keys only, however the object was made", () => {
    const at = (tree_: PyTree) => tree.leaves(tree_).map((l) => (l as Float64Array)[0]);
    const literal = { b: Float64Array.of(2), a: Float64Array.of(1) };
    const bare = Object.assign(Object.create(null) as Record<string, PyTree>, literal);
    // A dictionary-mode object (one that lost a key), and one with a key it does not enumerate.
    const emptied: Record<string, PyTree> = { c: Float64Array.of(3), ...literal };
    delete emptied.c;
    const hidden = { ...literal };
    Object.defineProperty(hidden, "z", { value: Float64Array.of(9), enumerable: false });
    const proto = Object.prototype as Record<string, unknown>;
    // An enumerable property on Object.prototype is inherited, not the tree's own.
    Object.defineProperty(proto, "polluted", {
      value: Float64Array.of(7),
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      for (const t of [literal, bare, emptied, hidden] as PyTree[]) expect(at(t)).toEqual([1, 2]);
    } finally {
      delete proto.polluted;
    }
  });

  test.prop([fc.uniqueArray(fc.string({ maxLength: 3 }), { minLength: 33, maxLength: 80 })])(
    "a wide tree gradtx built (a dictionary) walks again into its own leaves, in order",
    (keys) => {
      const obj = Object.fromEntries(keys.map((k, i) => [k, Float64Array.of(i)])) as Record<string, PyTree>;
      const out = applyUpdates(obj, tree.zerosLike(obj));
      expect(tree.leaves(out).map((l) => (l as Float64Array)[0])).toEqual(
        tree.leaves(obj).map((l) => (l as Float64Array)[0]),
      );
    },
  );

  test.prop([fc.uniqueArray(fc.string({ maxLength: 3 }), { minLength: 33, maxLength: 80 })])(
    "a tree rebuilt from a wide object (past 32 keys, built as a dictionary) has exactly its keys, in order, as a plain object",
    (keys) => {
      const obj = Object.fromEntries(keys.map((k, i) => [k, Float64Array.of(i)])) as Record<string, PyTree>;
      const out = applyUpdates(obj, tree.zerosLike(obj)) as Record<string, Float64Array>;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      // Keys in sorted order, as an object lists them (integer-like keys first, by the language).
      expect(Object.keys(out)).toEqual(Object.keys(Object.fromEntries([...keys].sort().map((k) => [k, 0]))));
      for (const k of keys) expect(out[k]![0]).toBe((obj[k] as Float64Array)[0]);
    },
  );

  it("visits object keys in sorted order, so insertion order changes nothing", () => {
    const a = { w: Float64Array.of(1), b: Float64Array.of(2), a: Float64Array.of(3) };
    const b = { a: Float64Array.of(3), b: Float64Array.of(2), w: Float64Array.of(1) };
    expect(tree.leaves(a).map((l) => (l as Float64Array)[0])).toEqual([3, 2, 1]);
    const opt = adam(0.1);
    const [ua] = opt.update(a, opt.init(a), a);
    const [ub] = opt.update(b, opt.init(b), b);
    expectBitEqual(ua, ub);
  });

  it("accepts null and undefined as empty subtrees, arrays as tuples and null-prototype objects", () => {
    const bare = Object.assign(Object.create(null) as Record<string, PyTree>, { x: Float64Array.of(1) });
    const params: PyTree = [null, { inner: bare, none: undefined }, Float32Array.of(2)];
    const out = applyUpdates(params, tree.zerosLike(params)) as unknown[];
    expect(out[0]).toBeNull();
    expect(values(out as PyTree)).toEqual([1, 2]);
  });

  it("reads a strided ndarray view through its strides and returns a contiguous ndarray of the same shape", () => {
    const base = ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    const transposed = base.transpose(1, 0); // shape [3, 2]: rows [1,4], [2,5], [3,6]
    const out = applyUpdates(
      transposed,
      ndarray(new Float64Array(6).fill(10), [3, 2]),
    ) as ndarray.NdArray<Float64Array>;
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(out.data)).toEqual([11, 14, 12, 15, 13, 16]);
    expect(out.stride).toEqual([2, 1]);
  });

  test.prop([
    fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    fc.array(
      fc.integer({ min: -2, max: 2 }).filter((k) => k !== 0),
      { minLength: 4, maxLength: 4 },
    ),
    fc.boolean(),
  ])(
    "reads any stepped, flipped or transposed view in row-major order, as ndarray-ops's assign copies it",
    (shape, steps, transposed) => {
      // A buffer |step| times longer in each dimension, stepped (and flipped) down to `shape`.
      const big = shape.map((n, d) => n * Math.abs(steps[d]!));
      const base = ndarray(
        Float64Array.from({ length: big.reduce((a, b) => a * b, 1) }, (_, i) => i + 1),
        big,
      );
      let view = base.step(...shape.map((_, d) => steps[d]!));
      if (transposed) view = view.transpose(...shape.map((_, d) => shape.length - 1 - d));
      const expected = ndarray(new Float64Array(view.size), view.shape.slice());
      ops.assign(expected, view);
      const out = applyUpdates(view, ndarray(new Float64Array(view.size), view.shape.slice()));
      expect(out.shape).toEqual(view.shape);
      expect(Array.from(out.data)).toEqual(Array.from(expected.data));
    },
  );

  it("reads a contiguous ndarray with an offset without copying the rest of its buffer", () => {
    const buffer = Float64Array.of(99, 1, 2, 3, 4, 99);
    const view = ndarray(buffer, [2, 2], [2, 1], 1);
    const out = applyUpdates(view, ndarray(Float64Array.of(1, 1, 1, 1), [2, 2]));
    expect(Array.from(out.data)).toEqual([2, 3, 4, 5]);
  });

  it("keeps the updates' dtype in updates, the params' dtype in state and in applyUpdates (mixed float32/float64)", () => {
    const params = { w: Float64Array.of(1, 2) };
    const grads = { w: Float32Array.of(0.5, 0.25) };
    const opt = adam(0.1);
    const state = opt.init(params);
    expect((state[0].mu as { w: unknown }).w).toBeInstanceOf(Float64Array);
    const [u] = opt.update(grads, state, params);
    expect((u as { w: unknown }).w).toBeInstanceOf(Float32Array);
    expect(applyUpdates(params, u).w).toBeInstanceOf(Float64Array);
    const f32 = { w: Float32Array.of(1, 2) };
    expect(applyUpdates(f32, { w: Float64Array.of(0.1, 0.1) }).w).toBeInstanceOf(Float32Array);
  });

  it("returns ndarray updates for ndarray grads, with the grads' shape", () => {
    const w = ndarray(new Float32Array(6).fill(1), [2, 3]);
    const opt = sgd(0.5);
    const [u] = opt.update({ w }, opt.init({ w }), { w });
    const uw = (u as { w: ndarray.NdArray<Float32Array> }).w;
    expect(uw.shape).toEqual([2, 3]);
    expect(Array.from(uw.data)).toEqual([-0.5, -0.5, -0.5, -0.5, -0.5, -0.5]);
  });
});

describe("pytrees: bad input is rejected with the path and what to use instead", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["a number", { lr: 0.1 }, "lr", /Float64Array\.of/],
    ["a number[]", { w: [1, 2, 3] }, "w", /Float64Array\.from/],
    ["an Int32Array", { layers: [{ w: new Int32Array(2) }] }, "layers[0].w", /Float32Array or Float64Array/],
    ["a Map", { m: new Map() }, "m", /plain object/],
    ["a class instance", { d: new Date(0) }, "d", /a Date/],
    ["a string", ["x"], "[0]", /a string/],
    ["an ndarray over a plain array", { w: ndarray([1, 2]) }, "w", /ndarray leaf/],
    ["an odd key", { "my key": true }, '["my key"]', /a boolean/],
  ];
  it.each(cases)("rejects %s (NOT_A_PYTREE)", (_, value, path, advice) => {
    let error: unknown;
    try {
      sgd(0.1).init(value as PyTree);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GradTxError);
    expect((error as GradTxError).code).toBe("NOT_A_PYTREE");
    expect((error as GradTxError).path).toBe(path);
    expect((error as GradTxError).message).toMatch(advice);
  });

  it("rejects a cyclic object instead of overflowing the stack", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => tree.leaves(cyclic as PyTree)).toThrowError(expect.objectContaining({ code: "NOT_A_PYTREE" }));
  });
});
