/**
 * optax's edge semantics, read from its source (optax/schedules/_schedule.py, _join.py and
 * optax/_src/transform.py), with the expected numbers worked out by hand from its formulas.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  constantSchedule,
  exponentialDecay,
  linearSchedule,
  polynomialSchedule,
  rmsprop,
  scaleByStddev,
  warmupCosineDecaySchedule,
  type GradientTransformation,
} from "../src/index.js";

/** Relative closeness, for values computed in a different order than by hand. */
function expectNear(actual: number, expected: number, relative = 1e-12): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(relative * Math.abs(expected));
}

describe("warmupCosineDecaySchedule with peakValue 0", () => {
  it("is 0 from the end of the warmup on, whatever endValue is (optax: alpha = 0 when the peak is 0)", () => {
    for (const endValue of [0.1, -0.1, 0]) {
      const s = warmupCosineDecaySchedule({ initValue: 0.5, peakValue: 0, warmupSteps: 2, decaySteps: 6, endValue });
      // Warmup: a line from 0.5 to 0 over 2 steps: 0.5, 0.25.
      expect([s(0), s(1)]).toEqual([0.5, 0.25]);
      // optax: peak * ((1 - 0) c + 0) = 0 * c = 0 at every later count.
      for (let t = 2; t <= 12; t++) expect(s(t)).toBe(0);
    }
  });

  it("without a warmup is 0 from step 0", () => {
    const s = warmupCosineDecaySchedule({ initValue: 1, peakValue: 0, warmupSteps: 0, decaySteps: 4, endValue: 1 });
    expect([0, 1, 2, 4, 9].map(s)).toEqual([0, 0, 0, 0, 0]);
  });

  it("with a non-zero peak still goes from the peak to endValue", () => {
    // W = 2, D = 4: at t = 4, c = 0.5 (1 + cos(pi / 2)) = 0.5, value = (1 - 0.2) 0.5 + 0.2 = 0.6.
    const s = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 6, endValue: 0.2 });
    expect(s(2)).toBe(1);
    expectNear(s(4), 0.6);
    expect(s(6)).toBe(0.2);
  });
});

describe("exponentialDecay's endValue bounds every count, before transitionBegin too", () => {
  it("a floor above initValue gives the floor from step 0 (optax clips after its where)", () => {
    const s = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, transitionBegin: 5, endValue: 2 });
    // rate < 1: value = max(v, 2) and v <= 1 everywhere.
    for (const t of [0, 3, 5, 6, 15, 100]) expect(s(t)).toBe(2);
  });

  it("a ceiling below initValue gives the ceiling from step 0", () => {
    const s = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 2, transitionBegin: 5, endValue: 0.5 });
    // rate >= 1: value = min(v, 0.5) and v >= 1 everywhere.
    for (const t of [0, 5, 6, 50]) expect(s(t)).toBe(0.5);
  });

  it("between, the decay runs and the floor catches it", () => {
    const s = exponentialDecay({
      initValue: 1,
      transitionSteps: 10,
      decayRate: 0.5,
      transitionBegin: 5,
      endValue: 0.3,
    });
    expect(s(0)).toBe(1); // before the begin: init, above the floor
    expect(s(5)).toBe(1); // count 0: init
    expect(s(15)).toBe(0.5); // p = 1: 0.5
    expectNear(s(20), Math.SQRT1_2 / 2); // p = 1.5: 0.5^1.5 = 0.35355... > 0.3
    expect(s(25)).toBe(0.3); // p = 2: 0.25, floored to 0.3
  });

  it("property: the value is always on the right side of endValue", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 0.01, max: 4, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 200 }),
        (initValue, decayRate, endValue, transitionBegin, t) => {
          const s = exponentialDecay({ initValue, transitionSteps: 7, decayRate, transitionBegin, endValue });
          if (decayRate < 1) expect(s(t)).toBeGreaterThanOrEqual(endValue);
          else expect(s(t)).toBeLessThanOrEqual(endValue);
        },
      ),
    );
  });
});

describe("degenerate schedule arguments optax reinterprets are refused, saying what optax does", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "polynomialSchedule transitionSteps 0",
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 0 }),
      /transitionSteps must be an integer >= 1, got 0; optax reads transition_steps <= 0 as a constant schedule of init_value: write constantSchedule\(initValue\)/,
    ],
    [
      "linearSchedule transitionSteps -3",
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: -3 }),
      /^linearSchedule: transitionSteps must be an integer >= 1, got -3; optax reads transition_steps <= 0/,
    ],
    [
      "polynomialSchedule transitionBegin -1",
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 5, transitionBegin: -1 }),
      /transitionBegin must be an integer >= 0, got -1; optax reads a negative transition_begin as 0/,
    ],
    [
      "exponentialDecay transitionSteps 0",
      () => exponentialDecay({ initValue: 1, transitionSteps: 0, decayRate: 0.5 }),
      /optax reads transition_steps <= 0 as a constant/,
    ],
    [
      "exponentialDecay decayRate 0",
      () => exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0 }),
      /decayRate must be a number > 0, got 0; optax reads decay_rate 0 as a constant schedule of init_value/,
    ],
    [
      "exponentialDecay transitionBegin -5",
      () => exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, transitionBegin: -5 }),
      /optax reads a negative transition_begin as 0/,
    ],
    [
      "exponentialDecay decayRate -0.5",
      () => exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: -0.5 }),
      /decayRate must be a number > 0, got -0.5$/,
    ],
    [
      "warmupCosineDecaySchedule decaySteps == warmupSteps",
      () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
      /decaySteps must be an integer >= 11, got 10; decaySteps counts the warmup, so the cosine part would last 0 steps \(optax refuses that too\)/,
    ],
    [
      "warmupCosineDecaySchedule warmupSteps -1",
      () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: -1, decaySteps: 10 }),
      /warmupSteps must be an integer >= 0, got -1/,
    ],
  ];
  it.each(cases)("%s", (_, build, message) => {
    expect(build).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
    );
  });

  it("what optax makes of them is one line away", () => {
    // optax's polynomial_schedule(1, 0, 1, 0) is the constant 1.
    expect([0, 10, 1000].map(constantSchedule(1))).toEqual([1, 1, 1]);
    // optax's transition_begin=-5 is transition_begin=0: at t = 10, 0.5^(10 / 10) = 0.5.
    expect(exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, transitionBegin: 0 })(10)).toBe(0.5);
  });
});

/** Runs `tx` on the given one-element gradients; returns each update's element. */
function updates(tx: GradientTransformation, gs: readonly number[]): number[] {
  const p = Float64Array.of(0);
  let state = tx.init(p);
  return gs.map((g) => {
    const [u, next] = tx.update(Float64Array.of(g), state, p);
    state = next;
    return (u as Float64Array)[0]!;
  });
}

describe("rmsprop({ centered: true }) takes biasCorrection and epsInSqrt: false, as optax since 0.2.4", () => {
  // decay 0.5 keeps the moments exact in binary: g = 1 then 3.
  // step 1: mu = 0.5, nu = 0.5; step 2: mu = 0.5*3 + 0.5*0.5 = 1.75, nu = 0.5*9 + 0.5*0.5 = 4.75.
  const eps = 1e-8;

  it("plain centered: u2 = g / sqrt(nu - mu^2 + eps) = 3 / sqrt(4.75 - 3.0625 + eps)", () => {
    const [, u2] = updates(rmsprop(1, { centered: true, decay: 0.5 }), [1, 3]);
    expectNear(u2!, -3 / Math.sqrt(1.6875 + eps));
  });

  it("biasCorrection divides both moments by 1 - decay^t", () => {
    // t = 2: 1 - 0.25 = 0.75; m = 1.75 / 0.75 = 7/3, v = 4.75 / 0.75 = 19/3; v - m^2 = 57/9 - 49/9 = 8/9.
    const [u1, u2] = updates(rmsprop(1, { centered: true, decay: 0.5, biasCorrection: true }), [1, 3]);
    // t = 1: m = 1, v = 1, v - m^2 = 0 (up to a rounding of the correction), u = 1 / sqrt(eps).
    expectNear(u1!, -1 / Math.sqrt(eps), 1e-6);
    expectNear(u2!, -3 / Math.sqrt(8 / 9 + eps));
  });

  it("epsInSqrt: false adds eps to the root instead", () => {
    const [, u2] = updates(rmsprop(1, { centered: true, decay: 0.5, biasCorrection: true, epsInSqrt: false }), [1, 3]);
    // 3 / (sqrt(8/9) + eps) = 3 / (2 sqrt(2) / 3 + eps)
    expectNear(u2!, -3 / ((2 * Math.SQRT2) / 3 + eps));
    const [, plain] = updates(rmsprop(1, { centered: true, decay: 0.5, epsInSqrt: false }), [1, 3]);
    expectNear(plain!, -3 / (Math.sqrt(1.6875) + eps));
  });

  it("the state counts steps only with biasCorrection, as optax's ScaleByRStdDevWithCountState", () => {
    const p = Float64Array.of(0);
    expect(Object.keys(scaleByStddev().init(p)).sort()).toEqual(["mu", "nu"]);
    const corrected = scaleByStddev({ biasCorrection: true });
    const [, next] = corrected.update(Float64Array.of(1), corrected.init(p));
    expect(Object.keys(next).sort()).toEqual(["count", "mu", "nu"]);
    expect(next.count).toBe(1);
  });
});
