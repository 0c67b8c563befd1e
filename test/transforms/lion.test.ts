/** Lion (src/transforms/lion.ts): its first step worked out by hand from optax's equations. */
import { describe, expect, it } from "vitest";
import { scaleByLion } from "../../src/index.js";
import { backends, dtypes, expectNear, firstStep, numbers } from "./first-step.js";

describe.each(backends)("Lion's first step by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("u = sign(0.1 g + 0.9 * 0) = sign(g) (0 for a zero, NaN for NaN); mu = 0.01 g", () => {
      const { u, state } = firstStep(backend, scaleByLion(), dtype, [-3, 0.5, 0, -0, NaN]);
      // sign as jnp.sign: -1 and 1, 0 for 0, NaN for NaN.
      expect(u.slice(0, 3)).toEqual([-1, 1, 0]);
      // For g = -0: 0.1 * -0 = -0, 0.9 * 0 = 0, and -0 + 0 = +0, whose sign is +0.
      expect(Object.is(u[3], 0)).toBe(true);
      expect(u[4]).toBeNaN();
      // mu = 0.01 g + 0.99 * 0.
      expectNear(numbers(state.mu).slice(0, 4), [-0.03, 0.005, 0, 0], dtype, 8);
    });

    it("b1 = 0 is the sign of the update itself, b2 = 1 keeps mu at 0", () => {
      const { u, state } = firstStep(backend, scaleByLion({ b1: 0, b2: 1 }), dtype, [-0.25, 7]);
      expect(u).toEqual([-1, 1]);
      expect(numbers(state.mu)).toEqual([0, 0]);
    });
  });
});
