/** `ema` (src/transforms/accumulation.ts): its first step worked out by hand from optax's equations. */
import { describe, expect, it } from "vitest";
import { ema } from "../../src/index.js";
import { backends, dtypes, expectNear, firstStep, numbers } from "./first-step.js";

describe.each(backends)("ema's first step by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    const g = [8, -0.5, 0];

    it("debiased: ema = (1 - 0.75) g = 0.25 g, u = ema / (1 - 0.75^1) = g", () => {
      const { u, state } = firstStep(backend, ema(0.75), dtype, g);
      expectNear(u, g, dtype, 8);
      expect(state.count).toBe(1);
      expectNear(numbers(state.ema), [2, -0.125, 0], dtype, 8);
    });

    it("without debias: u = ema = 0.25 g, and the count still advances", () => {
      const { u, state } = firstStep(backend, ema(0.75, { debias: false }), dtype, g);
      expectNear(u, [2, -0.125, 0], dtype, 8);
      expectNear(numbers(state.ema), [2, -0.125, 0], dtype, 8);
      expect(state.count).toBe(1);
    });
  });
});
