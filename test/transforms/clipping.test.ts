/**
 * `clipByGlobalNorm`, `clip` and `clipByBlockRms` (src/transforms/clipping.ts): first steps
 * worked out by hand from optax's equations, and the hyperparameters each accepts.
 */
import { describe, expect, it } from "vitest";
import { clip, clipByBlockRms, clipByGlobalNorm, type GradientTransformation, type PyTree } from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { BLOCK } from "../../src/kernels/pass.js";
import { backends, dtypes, expectNear, firstStep, leaf, numbers, type Dtype } from "./first-step.js";

/** `x` rounded to the leaf's dtype. */
const inDtype = (dtype: Dtype, x: number): number => (dtype === "float32" ? Math.fround(x) : x);

describe.each(backends)("clipByGlobalNorm by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("clipByGlobalNorm(1) over two leaves: (3, 4) has norm 5 and becomes (3 / 5, 4 / 5), each rounded to the dtype", () => {
      const g: PyTree = { a: leaf(dtype, [3]), b: leaf(dtype, [4]) };
      const u = withBackend(backend, () => {
        const tx = clipByGlobalNorm(1);
        return tx.update(g, tx.init(g))[0];
      });
      // optax: (t / norm) * maxNorm; the multiplication by 1 is exact.
      expect(numbers(u)).toEqual([inDtype(dtype, 3 / 5), inDtype(dtype, 4 / 5)]);
    });

    it("clipByGlobalNorm(2) on (6, 8), norm 10: (6 / 10) * 2 and (8 / 10) * 2, dividing first as optax does", () => {
      // In the dtype: the quotient is rounded, then the product.
      const expected = [6, 8].map((t) => inDtype(dtype, inDtype(dtype, t / 10) * 2));
      expect(firstStep(backend, clipByGlobalNorm(2), dtype, [6, 8]).u).toEqual(expected);
    });

    it("clipByGlobalNorm below maxNorm returns the very same tree, not a copy", () => {
      const g: PyTree = { a: leaf(dtype, [0.3]), b: leaf(dtype, [0.4]) };
      const u = withBackend(backend, () => {
        const tx = clipByGlobalNorm(1);
        return tx.update(g, tx.init(g))[0];
      });
      expect(u).toBe(g);
    });

    it("clipByGlobalNorm with the norm exactly maxNorm still rescales, as optax's trigger is norm < maxNorm", () => {
      // sqrt(7^2 + 24^2) = 25 and sqrt(12^2 + 35^2) = 37, both exact. (t / 25) * 25 is not t for
      // t = 7 in float64, nor (t / 37) * 37 for t = 12 in float32: the rescale is visible.
      const [t, other, norm] = dtype === "float64" ? [7, 24, 25] : [12, 35, 37];
      const expected = [t, other].map((v) => inDtype(dtype, inDtype(dtype, v / norm) * norm));
      expect(expected[0]).not.toBe(t);
      expect(firstStep(backend, clipByGlobalNorm(norm), dtype, [t, other]).u).toEqual(expected);
    });

    it("clipByGlobalNorm(Infinity) disables clipping: a finite update comes back as the very same leaf, even one near the largest number", () => {
      const g = leaf(dtype, dtype === "float64" ? [1e300, -1e300] : [3e38, -3e38]);
      const u = withBackend(backend, () => {
        const tx = clipByGlobalNorm(Infinity);
        return tx.update(g, tx.init(g))[0];
      });
      expect(u).toBe(g);
    });

    it("clipByGlobalNorm(Infinity) on an infinite update gives NaN, as optax does: inf < inf is false, and inf / inf * inf is NaN", () => {
      expect(firstStep(backend, clipByGlobalNorm(Infinity), dtype, [Infinity, 1]).u).toEqual([NaN, NaN]);
    });
  });
});

describe.each(backends)("clip and clipByBlockRms by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("clip(1) = min(max(u, -1), 1): signed zeros and NaN pass, infinities are bounded", () => {
      const { u } = firstStep(backend, clip(1), dtype, [-3, 0.5, 2, -0, NaN, Infinity, -Infinity]);
      // max(-0, -1) = -0 and min(-0, 1) = -0 (Math.min/max order signed zeros).
      expect(u).toEqual([-1, 0.5, 1, -0, NaN, 1, -1]);
    });

    it("clip(0.1) bounds to 0.1 in the leaf's dtype; clip(Infinity) changes nothing", () => {
      expectNear(firstStep(backend, clip(0.1), dtype, [0.5, -0.5, 0.0625]).u, [0.1, -0.1, 0.0625], dtype, 1);
      expect(firstStep(backend, clip(Infinity), dtype, [1e30, -3]).u).toEqual(
        [1e30, -3].map(dtype === "float32" ? Math.fround : Number),
      );
    });

    it("clipByBlockRms(1) per leaf: [3, 4] has rms sqrt(12.5) > 1 and is divided by it; [0.5, -0.5] (rms 0.5) and an empty leaf pass", () => {
      const g: PyTree = { a: leaf(dtype, [3, 4]), b: leaf(dtype, [0.5, -0.5]), c: leaf(dtype, []) };
      const u = withBackend(backend, () => {
        const tx = clipByBlockRms(1);
        return tx.update(g, tx.init(g))[0] as Record<string, Float32Array | Float64Array>;
      });
      const r = Math.sqrt(12.5);
      expectNear(Array.from(u.a!), [3 / r, 4 / r], dtype, 4);
      expect(Array.from(u.b!)).toEqual([0.5, -0.5]);
      expect(u.c!.length).toBe(0);
      // Within the threshold a leaf is divided by 1: it comes back as the very same leaf.
      expect(u.b).toBe((g as Record<string, unknown>).b);
      expect(u.a).not.toBe((g as Record<string, unknown>).a);
    });

    it("clipByBlockRms counts a leaf's elements over several blocks: 2 * BLOCK + 3 twos have rms 2, so clip(1) gives ones", () => {
      // norm = sqrt(4 n) = 2 sqrt(n) exactly (scaling by 4 is exact), so rms = 2 and u = 2 / 2 = 1.
      const n = 2 * BLOCK + 3;
      const { u } = firstStep(backend, clipByBlockRms(1), dtype, new Array<number>(n).fill(2));
      expect(u.length).toBe(n);
      expect(u.every((v) => v === 1)).toBe(true);
    });
  });
});

describe.each(backends)("clip and clipByBlockRms thresholds (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("clip(0) sends every element to zero", () => {
      const { u } = firstStep(backend, clip(0), dtype, [3, -3, 0.5]);
      expect(u.map((v) => v === 0)).toEqual([true, true, true]);
    });

    it("clipByBlockRms(2) on [3, 4]: rms = 5 / sqrt(2) and u = u / (rms / 2), the threshold dividing the rms", () => {
      // The leaf's norm is exactly 5; the denominator is computed in float64, rounded once to the dtype.
      const denominator = inDtype(dtype, 5 / Math.sqrt(2) / 2);
      const expected = [3, 4].map((t) => inDtype(dtype, t / denominator));
      expectNear(firstStep(backend, clipByBlockRms(2), dtype, [3, 4]).u, expected, dtype, 0);
    });

    it("clipByBlockRms(Infinity) lets every finite leaf through unchanged: rms / Infinity = 0 < 1", () => {
      expect(firstStep(backend, clipByBlockRms(Infinity), dtype, [1e30, -3]).u).toEqual(
        [1e30, -3].map((v) => inDtype(dtype, v)),
      );
    });
  });
});

describe("the clipping transformations' hyperparameters, as optax documents them", () => {
  const rejects: [string, () => GradientTransformation<unknown>][] = [
    ["clipByGlobalNorm(0)", () => clipByGlobalNorm(0)],
    ["clipByGlobalNorm(-1)", () => clipByGlobalNorm(-1)],
    ["clipByGlobalNorm(NaN)", () => clipByGlobalNorm(NaN)],
    ["clip(-1)", () => clip(-1)],
    ["clip(NaN)", () => clip(NaN)],
    ["clipByBlockRms(0)", () => clipByBlockRms(0)],
    ["clipByBlockRms(-1)", () => clipByBlockRms(-1)],
    ["clipByBlockRms(NaN)", () => clipByBlockRms(NaN)],
  ];
  it.each(rejects)("%s is INVALID_HYPERPARAMETER", (_, make) => {
    expect(make).toThrowError(expect.objectContaining({ code: "INVALID_HYPERPARAMETER" }));
  });
});
