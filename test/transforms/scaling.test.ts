/** `scaleByTrustRatio` (src/transforms/scaling.ts): its first step worked out by hand from optax's equations. */
import { describe, expect, it } from "vitest";
import { scaleByTrustRatio, type PyTree, type TrustRatioOptions } from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { backends, dtypes, expectNear, leaf, type Dtype } from "./first-step.js";

/** One step on three leaves: a = [0, 2] at params [3, 4], z = [1, 1] at [0, 0], w = [0, 0] at [1, -1]. */
function step(backend: (typeof backends)[number], dtype: Dtype, options?: TrustRatioOptions) {
  const params: PyTree = { a: leaf(dtype, [3, 4]), w: leaf(dtype, [1, -1]), z: leaf(dtype, [0, 0]) };
  const g: PyTree = { a: leaf(dtype, [0, 2]), w: leaf(dtype, [0, 0]), z: leaf(dtype, [1, 1]) };
  return withBackend(backend, () => {
    const tx = scaleByTrustRatio(options);
    const [u] = tx.update(g, tx.init(params), params);
    const out = u as Record<string, Float32Array | Float64Array>;
    return { a: Array.from(out.a!), w: Array.from(out.w!), z: Array.from(out.z!) };
  });
}

describe.each(backends)("scaleByTrustRatio's first step by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("scales each leaf by ||p|| / ||u||, and by 1 where either norm is 0", () => {
      const u = step(backend, dtype);
      // a: ||p|| = 5, ||u|| = 2, ratio 2.5: [0, 5]. z: ||p|| = 0, ratio 1. w: ||u|| = 0, ratio 1.
      expect(u).toEqual({ a: [0, 5], z: [1, 1], w: [0, 0] });
    });

    it("with minNorm 10, trustCoefficient 0.5 and eps 1: ratio = 0.5 max(||p||, 10) / (max(||u||, 10) + 1)", () => {
      const u = step(backend, dtype, { minNorm: 10, trustCoefficient: 0.5, eps: 1 });
      // Every norm is below 10 (5, 2; 0, sqrt(2); sqrt(2), 0), so every ratio is 0.5 * 10 / 11 = 5 / 11.
      expectNear(u.a, [0, 10 / 11], dtype, 2);
      expectNear(u.z, [5 / 11, 5 / 11], dtype, 2);
      expect(u.w).toEqual([0, 0]);
    });

    it("reads the params: without them it is MISSING_PARAMS", () => {
      const tx = scaleByTrustRatio();
      expect(() => withBackend(backend, () => tx.update(leaf(dtype, [1]), tx.init(leaf(dtype, [1]))))).toThrow(
        expect.objectContaining({
          code: "MISSING_PARAMS",
          message: expect.stringMatching(/scaleByTrustRatio reads the params/),
        }),
      );
    });
  });
});
