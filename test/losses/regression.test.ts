/**
 * The squared error, L2 and Huber losses: optax's known values, gradients against finite
 * differences, float32 arithmetic, and refusals.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { huberLoss, l2Loss, squaredError } from "../../src/losses/index.js";
import { codeOf } from "../helpers.js";
import { expectGradientMatchesFiniteDifferences } from "./gradient-check.js";

/**
 * Predictions and targets in [-100, 100] on a grid of 1e-4: a finite difference cannot see a
 * gradient below its resolution (an error of 1e-300 squares to nothing either side of it).
 */
const moderate = fc.integer({ min: -1e6, max: 1e6 }).map((k) => k / 1e4);
const pairs = fc.array(fc.tuple(moderate, moderate), { minLength: 1, maxLength: 12 });

// optax/losses/_regression_test.py, SquaredErrorTest and L2LossTest.
const ys = Float64Array.of(-2, -1, 0.5, 1);
const ts = Float64Array.of(-1.5, 0, -1, 1);

describe("squaredError", () => {
  it("gives optax's values, (t - y)^2, their mean and the gradient 2 (y - t) / N", () => {
    const { losses, value, grad } = squaredError(ys, ts);
    expect(Array.from(losses)).toEqual([0.25, 1, 2.25, 0]);
    expect(value).toBe(3.5 / 4);
    expect(Array.from(grad)).toEqual([-0.25, -0.5, 0.75, 0]);
  });

  it("takes missing targets as zeros", () => {
    expect(squaredError(Float64Array.of(3, -4)).value).toBe(12.5);
    expect(squaredError(Float64Array.of(3, -4), null).grad).toEqual(Float64Array.of(3, -4));
  });

  it("computes in float32 for float32 predictions: each operation rounded to float32", () => {
    const p = Float32Array.of(0.1, 0.7, 3.3);
    const t = Float64Array.of(0.3, 0.2, 1.1); // converted to float32 first
    const { losses, grad } = squaredError(p, t);
    expect(losses).toBeInstanceOf(Float32Array);
    const f = Math.fround;
    for (let j = 0; j < 3; j++) {
      const e = f(p[j]! - f(t[j]!));
      expect(losses[j]).toBe(f(e * e));
      expect(grad[j]).toBe(f((2 * e) / 3));
    }
  });

  it("keeps an ndarray's kind and shape, and refuses targets of another shape", () => {
    const { grad } = squaredError(ndarray(Float64Array.of(1, 2, 3, 4), [2, 2]), ndarray(new Float64Array(4), [2, 2]));
    expect(grad.shape).toEqual([2, 2]);
    expect(codeOf(() => squaredError(ndarray(new Float64Array(4), [2, 2]), ndarray(new Float64Array(4), [4])))).toBe(
      "SHAPE_MISMATCH targets",
    );
    expect(codeOf(() => squaredError("x" as never))).toBe("NOT_A_PYTREE predictions");
  });
});

describe("l2Loss", () => {
  it("is half the squared error, with optax's values, and the gradient (y - t) / N", () => {
    const { losses, grad } = l2Loss(ys, ts);
    expect(Array.from(losses)).toEqual([0.125, 0.5, 1.125, 0]);
    expect(Array.from(grad)).toEqual([-0.125, -0.25, 0.375, 0]);
  });
});

describe.each([
  ["squaredError", squaredError],
  ["l2Loss", l2Loss],
] as const)("%s", (_, loss) => {
  it("has the gradient of its mean: central differences agree to 1e-6 relative (float64)", () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const t = Float64Array.from(ps, ([, b]) => b);
        expectGradientMatchesFiniteDifferences(
          Float64Array.from(ps, ([a]) => a),
          (x) => loss(x, t),
        );
      }),
      { numRuns: 100 },
    );
  });
});

describe("huberLoss", () => {
  it("gives optax's values (optax/losses/_regression_test.py, HuberLossTest, delta 1)", () => {
    const { losses } = huberLoss(
      Float64Array.of(-2, 0.5, 0, 0.5, 2, 4, 132),
      Float64Array.of(0, -0.5, 0, 1, 1, 2, 0.3),
    );
    const expected = [1.5, 0.5, 0, 0.125, 0.5, 1.5, 131.2];
    losses.forEach((l, j) => expect(l).toBeCloseTo(expected[j]!, 12));
  });

  it("has the clipped error as its gradient: clip(e, -delta, delta) / N", () => {
    // e = (-3, -0.5, 0.25, 2) with delta 1: (-1, -0.5, 0.25, 1) / 4.
    const { grad } = huberLoss(Float64Array.of(-3, -0.5, 0.25, 2), null, { delta: 1 });
    expect(Array.from(grad)).toEqual([-0.25, -0.125, 0.0625, 0.25]);
  });

  it("has the gradient of its mean away from the kinks: central differences agree to 1e-6 relative", () => {
    fc.assert(
      fc.property(
        pairs.filter((ps) => ps.every(([a, b]) => Math.abs(Math.abs(a - b) - 2) > 1e-3)),
        (ps) => {
          const t = Float64Array.from(ps, ([, b]) => b);
          expectGradientMatchesFiniteDifferences(
            Float64Array.from(ps, ([a]) => a),
            (x) => huberLoss(x, t, { delta: 2 }),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("is the L2 loss up to |e| = delta, below it beyond, and linear there", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -50, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        (e, delta) => {
          const huber = huberLoss(Float64Array.of(e), null, { delta }).losses[0]!;
          const l2 = l2Loss(Float64Array.of(e)).losses[0]!;
          if (Math.abs(e) <= delta) expect(huber).toBe(l2);
          else {
            expect(huber).toBeLessThanOrEqual(l2);
            expect(huber).toBeCloseTo(delta * (Math.abs(e) - delta / 2), 9);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses a delta that is not > 0, and options that are not an object", () => {
    expect(codeOf(() => huberLoss(Float64Array.of(1), null, { delta: 0 }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => huberLoss(Float64Array.of(1), null, { delta: NaN }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => huberLoss(Float64Array.of(1), null, 1 as never))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => huberLoss(Float64Array.of(1), null, { delt: 1 } as never))).toBe("INVALID_HYPERPARAMETER");
  });
});
