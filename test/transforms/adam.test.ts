/**
 * The Adam family's variants (src/transforms/adam.ts), one first step each, worked out by hand
 * from optax's equations. From a zero state at t = 1 the moments are mu = (1 - b1) g and
 * nu = (1 - b2) g^2, and the bias corrections divide by 1 - b1 and 1 - b2, so the corrected
 * moments are g and g^2 (up to the rounding of the decays, a few ulps).
 */
import { describe, expect, it } from "vitest";
import { scaleByAdamax, scaleByAmsgrad, scaleByRAdam, type ScaleByAdamState } from "../../src/index.js";
import { backends, dtypes, expectNear, firstStep, numbers } from "./first-step.js";

const EPS = 1e-8;

describe.each(backends)("the Adam family's first step by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("scaleByAmsgrad: nuMax = corrected nu = g^2, u = g / (sqrt(g^2 + epsRoot) + eps)", () => {
      const g = [3, -1, 0];
      const { u, state } = firstStep(backend, scaleByAmsgrad(), dtype, g);
      // u = g / (|g| + 1e-8): 3 / (3 + 1e-8), -1 / (1 + 1e-8), and 0 / (0 + 1e-8) = 0.
      expectNear(u, [3 / (3 + EPS), -1 / (1 + EPS), 0], dtype, 8);
      expect(state.count).toBe(1);
      expectNear(numbers(state.mu), [0.3, -0.1, 0], dtype, 8);
      expectNear(numbers(state.nu), [0.009, 0.001, 0], dtype, 8);
      expectNear(numbers(state.nuMax), [9, 1, 0], dtype, 8);
      // epsRoot 7 inside the root: sqrt(9 + 7) = 4, sqrt(1 + 7) = sqrt(8), and 0 stays 0.
      const withRoot = firstStep(backend, scaleByAmsgrad({ epsRoot: 7 }), dtype, g).u;
      expectNear(withRoot, [3 / (4 + EPS), -1 / (Math.sqrt(8) + EPS), 0], dtype, 8);
    });

    it("scaleByAdamax: nu = max(0, |g| + eps), u = (mu / (1 - b1)) / nu = g / (|g| + eps)", () => {
      const g = [2, -0.5, 0];
      const { u, state } = firstStep(backend, scaleByAdamax(), dtype, g);
      expectNear(u, [2 / (2 + EPS), -0.5 / (0.5 + EPS), 0], dtype, 8);
      expect(state.count).toBe(1);
      // mu = 0.1 g; nu = |g| + 1e-8 (b2 * 0 = 0 is the smaller), 1e-8 itself where g = 0.
      expectNear(numbers(state.mu), [0.2, -0.05, 0], dtype, 8);
      expectNear(numbers(state.nu), [2 + EPS, 0.5 + EPS, EPS], dtype, 8);
    });

    it("scaleByRAdam: at t = 1 rho = rhoInf - 2 b2 / (1 - b2) = 1, below the threshold 5: u = corrected mu = g", () => {
      const g = [2, -0.5, 0];
      const { u, state } = firstStep<ScaleByAdamState>(backend, scaleByRAdam(), dtype, g);
      expectNear(u, g, dtype, 8);
      expect(state.count).toBe(1);
      expectNear(numbers(state.mu), [0.2, -0.05, 0], dtype, 8);
      expectNear(numbers(state.nu), [0.004, 0.00025, 0], dtype, 8);
    });

    it("scaleByRAdam nesterov: u = b1 mu / (1 - b1^2) + (1 - b1) g / (1 - b1) = g (1 + 2 b1) / (1 + b1)", () => {
      const { u } = firstStep(backend, scaleByRAdam({ nesterov: true }), dtype, [2, -0.5, 0]);
      // b1 = 0.9: the factor is 2.8 / 1.9.
      expectNear(
        u,
        [2, -0.5, 0].map((x) => (x * 2.8) / 1.9),
        dtype,
        8,
      );
    });

    it("scaleByRAdam rectified from the first step when the threshold is below rho = 1", () => {
      // b2 = 0.75: rhoInf = 2 / 0.25 - 1 = 7, rho = 7 - 2 * 0.75 / 0.25 = 1 >= 0.5, so
      // r = sqrt((1 - 4)(1 - 2) 7 / ((7 - 4)(7 - 2) 1)) = sqrt(21 / 15) = sqrt(1.4), and
      // u = r * g / (sqrt(g^2) + eps).
      const { u } = firstStep(backend, scaleByRAdam({ b2: 0.75, threshold: 0.5 }), dtype, [2, -0.5, 0]);
      const r = Math.sqrt(1.4);
      expectNear(u, [(r * 2) / (2 + EPS), (r * -0.5) / (0.5 + EPS), 0], dtype, 16);
    });
  });
});
