/**
 * The RMS-style transformations (src/transforms/rms.ts), one first step each, worked out by hand
 * from optax's equations: from the initial state, a moving average of the squares is
 * `decay * initial + (1 - decay) g^2`, and a sum of squares `initial + g^2`.
 */
import { describe, expect, it } from "vitest";
import { scaleByAdadelta, scaleByRms, scaleByRss, scaleByStddev } from "../../src/index.js";
import { backends, dtypes, expectNear, firstStep, numbers } from "./first-step.js";

describe.each(backends)("the RMS family's first step by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("scaleByRms: nu = 0.1 g^2, u = g / sqrt(nu + 1e-8)", () => {
      const { u, state } = firstStep(backend, scaleByRms(), dtype, [2, -1, 0]);
      expectNear(u, [2 / Math.sqrt(0.4 + 1e-8), -1 / Math.sqrt(0.1 + 1e-8), 0], dtype, 8);
      expect(state.count).toBe(1);
      expectNear(numbers(state.nu), [0.4, 0.1, 0], dtype, 8);
    });

    it("scaleByRms from initialScale 1, bias-corrected, eps outside the root", () => {
      // nu = 0.9 * 1 + 0.1 g^2; corrected by 1 - 0.9: v = 9 + g^2; u = g / (sqrt(9 + g^2) + 1e-8).
      const tx = scaleByRms({ initialScale: 1, biasCorrection: true, epsInSqrt: false });
      const { u, state } = firstStep(backend, tx, dtype, [4, -1, 0]);
      expectNear(u, [4 / (5 + 1e-8), -1 / (Math.sqrt(10) + 1e-8), 0], dtype, 8);
      expectNear(numbers(state.nu), [2.5, 1, 0.9], dtype, 8);
    });

    it("scaleByStddev: mu = 0.1 g, nu = 0.1 g^2, u = g / sqrt(nu - mu^2 + eps) = g / sqrt(0.09 g^2 + 1e-8)", () => {
      const { u, state } = firstStep(backend, scaleByStddev(), dtype, [2, -1, 0]);
      expectNear(u, [2 / Math.sqrt(0.36 + 1e-8), -1 / Math.sqrt(0.09 + 1e-8), 0], dtype, 8);
      expectNear(numbers(state.mu), [0.2, -0.1, 0], dtype, 8);
      expectNear(numbers(state.nu), [0.4, 0.1, 0], dtype, 8);
      // From initialScale 0.2: nu = 0.18 + 0.1 g^2, so nu - mu^2 = 0.18 + 0.09 g^2.
      const scaled = firstStep(backend, scaleByStddev({ initialScale: 0.2 }), dtype, [2, -1, 0]).u;
      expectNear(scaled, [2 / Math.sqrt(0.54 + 1e-8), -1 / Math.sqrt(0.27 + 1e-8), 0], dtype, 8);
    });

    it("scaleByRss: s = 0.1 + g^2, u = g / sqrt(s + 1e-7)", () => {
      const { u, state } = firstStep(backend, scaleByRss(), dtype, [3, -1, 0]);
      expectNear(u, [3 / Math.sqrt(9.1 + 1e-7), -1 / Math.sqrt(1.1 + 1e-7), 0], dtype, 8);
      expectNear(numbers(state.sumOfSquares), [9.1, 1.1, 0.1], dtype, 8);
    });

    it("scaleByRss from 0: the factor is 0 where s is 0 or NaN, and 0 * NaN keeps a NaN update NaN", () => {
      const { u } = firstStep(backend, scaleByRss({ initialAccumulatorValue: 0 }), dtype, [0, NaN, 2]);
      expect(u[0]).toBe(0);
      expect(u[1]).toBeNaN();
      expectNear([u[2]!], [2 / Math.sqrt(4 + 1e-7)], dtype, 8);
    });

    it("scaleByAdadelta: eG = 0.1 g^2, u = sqrt(0 + 1e-6) / sqrt(eG + 1e-6) g, eX = 0.1 u^2", () => {
      const { u, state } = firstStep(backend, scaleByAdadelta(), dtype, [1, -2, 0]);
      const want = [1e-3 / Math.sqrt(0.1 + 1e-6), -2e-3 / Math.sqrt(0.4 + 1e-6), 0];
      expectNear(u, want, dtype, 8);
      expectNear(numbers(state.eG), [0.1, 0.4, 0], dtype, 8);
      expectNear(
        numbers(state.eX),
        want.map((d) => 0.1 * d * d),
        dtype,
        8,
      );
    });
  });
});
