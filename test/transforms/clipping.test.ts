/**
 * `clip` and `clipByBlockRms` (src/transforms/clipping.ts): first steps worked out by hand from
 * optax's equations.
 */
import { describe, expect, it } from "vitest";
import { clip, clipByBlockRms, type PyTree } from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { BLOCK } from "../../src/kernels/pass.js";
import { backends, dtypes, expectNear, firstStep, leaf } from "./first-step.js";

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
