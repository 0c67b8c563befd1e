/**
 * The tree utilities added for optax parity: fills, leafwise arithmetic, reductions, norms,
 * selection, clipping and the moment helpers. Expected values are worked out in the comments.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { GradTxError, tree, type PyTree } from "../src/index.js";
import { arbitraryTree } from "../src/laws/index.js";
import { codeOf, values } from "./helpers.js";

const t = { w: ndarray(Float32Array.of(1, -2, 3, -4), [2, 2]), b: Float64Array.of(0.5, -0.25) };

describe("fills", () => {
  it("fullLike and onesLike keep structure, dtypes and shapes (ndarray leaves stay ndarrays)", () => {
    const full = tree.fullLike(t, 0.1);
    expect(full.w.data).toBeInstanceOf(Float32Array);
    expect(full.w.shape).toEqual([2, 2]);
    expect(Array.from(full.w.data)).toEqual([0.1, 0.1, 0.1, 0.1].map(Math.fround));
    expect(Array.from(full.b)).toEqual([0.1, 0.1]);
    expect(values(tree.onesLike(t))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(codeOf(() => tree.fullLike(t, "1" as never))).toBe("INVALID_HYPERPARAMETER");
  });
});

describe("leafwise arithmetic", () => {
  it("mul, div and addScale work leaf by leaf, in the first tree's dtypes and kinds", () => {
    const u = { w: ndarray(Float32Array.of(2, 2, 2, 2), [2, 2]), b: Float64Array.of(4, -1) };
    // b: 0.5 * 4 = 2, -0.25 * -1 = 0.25; 0.5 / 4, -0.25 / -1; 0.5 + 3 * 4, -0.25 + 3 * -1.
    expect(values(tree.mul(t, u))).toEqual([0.5 * 4, 0.25, 2, -4, 6, -8]);
    expect(values(tree.div(t, u))).toEqual([0.125, 0.25, 0.5, -1, 1.5, -2]);
    expect(values(tree.addScale(t, 3, u))).toEqual([12.5, -3.25, 7, 4, 9, 2]);
    const product = tree.mul(t, u);
    expect(product.w.shape).toEqual([2, 2]);
    expect(product.w.data).toBeInstanceOf(Float32Array);
  });

  it("addScale rounds a float32 product before the sum: no fused multiply-add", () => {
    const x = Float32Array.of(1);
    const y = Float32Array.of(Math.fround(1 / 3));
    const s = 3;
    const f = Math.fround;
    expect(tree.addScale(x, s, y)[0]).toBe(f(1 + f(f(s) * y[0]!)));
  });

  it("refuses trees of different structure, naming the path", () => {
    expect(() => tree.mul(t, { w: t.w })).toThrowError(GradTxError);
    expect(codeOf(() => tree.div(t, { ...t, b: Float64Array.of(1) }))).toBe("SHAPE_MISMATCH b");
    expect(codeOf(() => tree.addScale(t, "2" as never, t))).toBe("INVALID_HYPERPARAMETER");
  });
});

describe("reductions", () => {
  it("sum, max, min and size over every element of every leaf", () => {
    // 1 - 2 + 3 - 4 + 0.5 - 0.25 = -1.75
    expect(tree.sum(t)).toBe(-1.75);
    expect(tree.max(t)).toBe(3);
    expect(tree.min(t)).toBe(-4);
    expect(tree.size(t)).toBe(6);
  });

  it("an empty tree sums to 0, has max -Infinity and min Infinity (optax's initial values)", () => {
    expect(tree.sum({})).toBe(0);
    expect(tree.max({ a: new Float64Array(0) })).toBe(-Infinity);
    expect(tree.min(null)).toBe(Infinity);
    expect(tree.size([])).toBe(0);
  });

  it("a NaN anywhere makes max and min NaN", () => {
    expect(tree.max([Float64Array.of(1, NaN, 2)])).toBeNaN();
    expect(tree.min([Float64Array.of(NaN, 1)])).toBeNaN();
  });

  it("sum is compensated: 1 + 1e100 + 1 - 1e100 is 2", () => {
    expect(tree.sum([Float64Array.of(1, 1e100), Float64Array.of(1, -1e100)])).toBe(2);
  });

  it("the reductions agree with plain loops on arbitrary trees", () => {
    fc.assert(
      fc.property(arbitraryTree({ maxMagnitude: 100 }), (x) => {
        const xs = values(x);
        expect(tree.size(x)).toBe(xs.length);
        // + 0 makes -0 and 0 one number: which of two equal zeros is "the largest" is no matter.
        expect(tree.max(x) + 0).toBe(xs.reduce((m, v) => Math.max(m, v), -Infinity) + 0);
        expect(tree.min(x) + 0).toBe(xs.reduce((m, v) => Math.min(m, v), Infinity) + 0);
        expect(Math.abs(tree.sum(x) - xs.reduce((s, v) => s + v, 0))).toBeLessThan(1e-9);
      }),
      { numRuns: 100 },
    );
  });
});

describe("norm", () => {
  it("gives the 1, 2 and Infinity norms, squared on request", () => {
    // |1| + |-2| + |3| + |-4| + 0.5 + 0.25 = 10.75; squares 1 + 4 + 9 + 16 + 0.25 + 0.0625 = 30.3125.
    expect(tree.norm(t, { ord: 1 })).toBe(10.75);
    expect(tree.norm(t, { ord: 1, squared: true })).toBe(10.75 ** 2);
    expect(tree.norm(t)).toBe(Math.sqrt(30.3125));
    expect(tree.norm(t, { squared: true })).toBe(30.3125);
    expect(tree.norm(t, { ord: Infinity })).toBe(4);
    expect(tree.norm(t, { ord: Infinity, squared: true })).toBe(16);
    expect(tree.norm({}, { ord: Infinity })).toBe(0);
  });

  it("ord 2 is the global norm, without overflow", () => {
    expect(tree.norm([Float64Array.of(3e200, 4e200)])).toBeCloseTo(5e200, -190);
  });

  it("refuses another ord, and options that are not an object", () => {
    expect(codeOf(() => tree.norm(t, { ord: 3 as never }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => tree.norm(t, 1 as never))).toBe("INVALID_HYPERPARAMETER");
  });
});

describe("where and clip", () => {
  it("where returns the chosen tree itself, after checking the two agree in structure", () => {
    const u = tree.zerosLike(t);
    expect(tree.where(true, t, u)).toBe(t);
    expect(tree.where(false, t, u)).toBe(u);
    expect(codeOf(() => tree.where(true, t, { w: t.w }))).toBe("STRUCTURE_MISMATCH");
    expect(codeOf(() => tree.where(1 as never, t, t))).toBe("INVALID_HYPERPARAMETER");
  });

  it("clip clamps every element, a missing bound open, NaN kept", () => {
    expect(values(tree.clip(t, -1, 1))).toEqual([0.5, -0.25, 1, -1, 1, -1]);
    expect(values(tree.clip(t, null, 0))).toEqual([0, -0.25, 0, -2, 0, -4]);
    expect(Array.from(tree.clip(Float64Array.of(NaN, 5), 0, 1))).toEqual([NaN, 1]);
    expect(codeOf(() => tree.clip(t, 1, 0))).toBe("INVALID_HYPERPARAMETER");
  });

  it("clip returns a new tree of the same kinds and leaves its input alone", () => {
    const before = values(t);
    const clipped = tree.clip(t, 0, 1);
    expect(clipped.w.shape).toEqual([2, 2]);
    expect(values(t)).toEqual(before);
  });
});

describe("moments", () => {
  it("updateMoment is (1 - decay) g^order + decay m, in the moments' dtypes", () => {
    // (1 - 0.9) * 2^2 + 0.9 * 1 = 1.3; (1 - 0.9) * 2 + 0.9 * 1 = 1.1
    const g = Float64Array.of(2);
    expect(tree.updateMoment(g, Float64Array.of(1), 0.9, 2)[0]).toBeCloseTo(1.3, 15);
    expect(tree.updateMoment(g, Float64Array.of(1), 0.9, 1)[0]).toBeCloseTo(1.1, 15);
    const single = tree.updateMoment(g, Float32Array.of(1), 0.9, 2);
    expect(single).toBeInstanceOf(Float32Array);
    const f = Math.fround;
    expect(single[0]).toBe(f(f(f(1 - 0.9) * 4) + f(f(0.9) * 1)));
  });

  it("biasCorrection divides by 1 - decay^count, and by 0 at count 0", () => {
    // 0.19 / (1 - 0.9^2) = 0.19 / 0.19 = 1
    expect(tree.biasCorrection(Float64Array.of(0.19), 0.9, 2)[0]).toBeCloseTo(1, 14);
    expect(tree.biasCorrection(Float64Array.of(1), 0.9, 0)[0]).toBe(Infinity);
    expect(tree.biasCorrection(Float64Array.of(2), 0, 3)[0]).toBe(2);
    expect(codeOf(() => tree.biasCorrection(Float64Array.of(1), 1.5, 1))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => tree.biasCorrection(Float64Array.of(1), 0.9, 1.5))).toBe("INVALID_HYPERPARAMETER");
  });

  it("updateMoment then biasCorrection is Adam's first moment after one step: the gradient itself", () => {
    fc.assert(
      fc.property(
        arbitraryTree({ maxMagnitude: 10, dtypes: ["float64"] }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (g, b1) => {
          const m = tree.updateMoment(g as PyTree, tree.zerosLike(g as PyTree), b1, 1);
          const corrected = values(tree.biasCorrection(m, b1, 1));
          values(g as PyTree).forEach((v, j) => expect(corrected[j]!).toBeCloseTo(v, 12));
        },
      ),
      { numRuns: 50 },
    );
  });
});
