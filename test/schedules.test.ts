/**
 * Schedules: every expected value is worked out by hand from the formula in the doc comment
 * (the arithmetic is written next to it), or taken from optax's own documentation and tests
 * (optax/schedules/_schedule_test.py: PiecewiseInterpolateTest, OneCycleTest, SGDRTest, cited
 * at each).
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Schedule } from "../src/core/base.js";
import {
  constantSchedule,
  cosineDecaySchedule,
  cosineOnecycleSchedule,
  exponentialDecay,
  joinSchedules,
  linearOnecycleSchedule,
  linearSchedule,
  piecewiseConstantSchedule,
  piecewiseInterpolateSchedule,
  polynomialSchedule,
  sgdrSchedule,
  warmupConstantSchedule,
  warmupCosineDecaySchedule,
  warmupExponentialDecaySchedule,
} from "../src/optimizers/schedules.js";
import { codeOf } from "./helpers.js";

/** The message `thunk` throws. */
const messageOf = (thunk: () => unknown): string => {
  try {
    thunk();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("did not throw");
};

describe("constantSchedule", () => {
  it("is the same value at every step", () => {
    expect([0, 1, 1e9].map(constantSchedule(0.3))).toEqual([0.3, 0.3, 0.3]);
  });
});

describe("linearSchedule and polynomialSchedule", () => {
  it("linearSchedule holds initValue until transitionBegin, moves in a straight line, then holds endValue", () => {
    // 0 -> 1 over 10 steps after 5: value(t) = (0 - 1) * (1 - clip(t - 5, 0, 10) / 10) + 1
    const s = linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10, transitionBegin: 5 });
    expect(s(0)).toBe(0); // -1 * (1 - 0) + 1
    expect(s(5)).toBe(0); // -1 * (1 - 0) + 1
    expect(s(10)).toBe(0.5); // -1 * (1 - 5/10) + 1
    expect(s(15)).toBe(1); // -1 * (1 - 10/10) + 1
    expect(s(100)).toBe(1); // clipped at 10 steps
  });

  it("polynomialSchedule of power 2 from 1 to 0 over 10 steps is (1 - t/10)^2", () => {
    const s = polynomialSchedule({ initValue: 1, endValue: 0, power: 2, transitionSteps: 10 });
    expect(s(0)).toBe(1); // (1 - 0)^2
    expect(s(5)).toBe(0.25); // (1 - 0.5)^2
    expect(s(10)).toBe(0); // (1 - 1)^2
    expect(s(20)).toBe(0); // clipped
  });

  it("polynomialSchedule matches optax's documented example (1 -> 0.01, power 2, 100 steps after 5)", () => {
    const s = polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100, transitionBegin: 5 });
    expect(s(0)).toBeCloseTo(1, 15); // 0.99 * 1^2 + 0.01
    expect(s(5)).toBeCloseTo(1, 15);
    expect(s(6)).toBeCloseTo(0.980299, 15); // 0.99 * (1 - 1/100)^2 + 0.01 = 0.99 * 0.9801 + 0.01
    expect(s(104)).toBeCloseTo(0.010099, 15); // 0.99 * (1 - 99/100)^2 + 0.01 = 0.99 * 0.0001 + 0.01
    expect(s(105)).toBe(0.01);
    expect(s(110)).toBe(0.01);
  });

  it("reaches endValue exactly from transitionBegin + transitionSteps on (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.nat(1000),
        (initValue, endValue, power, transitionSteps, transitionBegin, after) => {
          const s = polynomialSchedule({ initValue, endValue, power, transitionSteps, transitionBegin });
          // (initValue - endValue) * 0^power + endValue (=== because the zero may be signed)
          expect(s(transitionBegin + transitionSteps + after) === endValue).toBe(true);
        },
      ),
    );
  });
});

describe("exponentialDecay", () => {
  it("decays continuously as initValue * decayRate^(t / transitionSteps)", () => {
    const s = exponentialDecay({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5 });
    expect(s(0)).toBe(0.1);
    expect(s(500)).toBeCloseTo(0.1 * Math.SQRT1_2, 16); // 0.1 * 0.5^0.5
    expect(s(1000)).toBeCloseTo(0.05, 16); // 0.1 * 0.5^1
    expect(s(2000)).toBeCloseTo(0.025, 16); // 0.1 * 0.5^2
  });

  it("with staircase decays in whole steps of transitionSteps: 0.1 * 0.5^floor(t / 1000)", () => {
    const s = exponentialDecay({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5, staircase: true });
    expect(s(999)).toBe(0.1); // 0.5^0
    expect(s(1000)).toBe(0.05); // 0.5^1
    expect(s(1999)).toBe(0.05); // 0.5^1
    expect(s(2000)).toBe(0.025); // 0.5^2
  });

  it("holds initValue until transitionBegin, then counts from it", () => {
    const s = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, transitionBegin: 3 });
    expect([0, 3, 4, 5].map(s)).toEqual([1, 1, 0.5, 0.25]); // 0.5^(t - 3) from t = 3 on
  });

  it("treats endValue as a floor when decaying and as a ceiling when growing, as optax", () => {
    const floored = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2 });
    expect([1, 2, 3, 10].map(floored)).toEqual([0.5, 0.25, 0.2, 0.2]); // max(0.5^t, 0.2); 0.5^3 = 0.125
    const capped = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 });
    expect([1, 2, 3].map(capped)).toEqual([2, 4, 5]); // min(2^t, 5); 2^3 = 8
  });

  it("with staircase is constant on every interval [n T, (n + 1) T) (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.nat(20), fc.nat(99), (transitionSteps, n, offset) => {
        const s = exponentialDecay({ initValue: 1, transitionSteps, decayRate: 0.9, staircase: true });
        expect(s(n * transitionSteps + (offset % transitionSteps))).toBe(s(n * transitionSteps));
      }),
    );
  });
});

describe("piecewiseConstantSchedule", () => {
  it("multiplies by each scale from its boundary on, boundary included: the paper's CIFAR schedule", () => {
    // Divide by 5 at epochs 60, 120 and 160, with ceil(50000 / 128) = 391 steps per epoch.
    const perEpoch = 391;
    const s = piecewiseConstantSchedule(0.1, { [60 * perEpoch]: 0.2, [120 * perEpoch]: 0.2, [160 * perEpoch]: 0.2 });
    expect(s(0)).toBe(0.1);
    expect(s(60 * perEpoch - 1)).toBe(0.1);
    expect(s(60 * perEpoch)).toBe(0.1 * 0.2);
    expect(s(120 * perEpoch - 1)).toBe(0.1 * 0.2);
    expect(s(120 * perEpoch)).toBe(0.1 * 0.2 * 0.2);
    expect(s(160 * perEpoch)).toBe(0.1 * 0.2 * 0.2 * 0.2);
    expect(s(200 * perEpoch)).toBe(0.1 * 0.2 * 0.2 * 0.2);
  });

  it("matches optax's documented example ({100: 0.1, 200: 0.01} from 1)", () => {
    const s = piecewiseConstantSchedule(1, { 100: 0.1, 200: 0.01 });
    expect(s(50)).toBe(1);
    expect(s(150)).toBe(0.1); // 1 * 0.1
    expect(s(250)).toBe(0.1 * 0.01); // 1 * 0.1 * 0.01 = 0.001
  });

  it("without boundaries is constant", () => {
    expect([0, 10, 1e6].map(piecewiseConstantSchedule(0.5))).toEqual([0.5, 0.5, 0.5]);
  });
});

describe("cosineDecaySchedule", () => {
  it("is initValue * ((1 - alpha) * 0.5 * (1 + cos(pi t / T)) + alpha), then constant", () => {
    const s = cosineDecaySchedule({ initValue: 2, decaySteps: 100, alpha: 0.1 });
    expect(s(0)).toBe(2); // 2 * (0.9 * 1 + 0.1)
    expect(s(25)).toBeCloseTo(2 * (0.9 * 0.5 * (1 + Math.SQRT1_2) + 0.1), 15); // cos(pi / 4) = sqrt(1/2)
    expect(s(50)).toBeCloseTo(2 * (0.9 * 0.5 + 0.1), 15); // cos(pi / 2) = 0: 1.1
    expect(s(100)).toBeCloseTo(2 * 0.1, 15); // cos(pi) = -1: 2 * alpha
    expect(s(1000)).toBeCloseTo(2 * 0.1, 15);
  });

  it("raises the cosine factor to the exponent", () => {
    const s = cosineDecaySchedule({ initValue: 1, decaySteps: 100, exponent: 2 });
    expect(s(50)).toBeCloseTo(0.25, 15); // (0.5 * (1 + 0))^2
  });

  it("never increases between 0 and decaySteps (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(1000),
        (initValue, decaySteps, alpha, t) => {
          const s = cosineDecaySchedule({ initValue, decaySteps, alpha });
          expect(s(t + 1)).toBeLessThanOrEqual(s(t) + 1e-15 * initValue);
        },
      ),
    );
  });
});

describe("warmupCosineDecaySchedule", () => {
  it("warms up linearly to peakValue, then decays to endValue at decaySteps, which counts the warmup (optax)", () => {
    // W = 10 warmup steps, then D = 110 - 10 = 100 decay steps from 1 to 0.1.
    const s = warmupCosineDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      decaySteps: 110,
      endValue: 0.1,
    });
    expect(s(0)).toBe(0); // initValue
    expect(s(5)).toBe(0.5); // 0 + (1 - 0) * 5 / 10
    expect(s(10)).toBeCloseTo(1, 15); // end of warmup: (1 - 0.1) * 1 + 0.1 = peakValue
    expect(s(60)).toBeCloseTo(0.55, 15); // half way: 0.9 * 0.5 * (1 + cos(pi / 2)) + 0.1
    expect(s(110)).toBe(0.1); // decaySteps: 0.9 * 0 + 0.1 = endValue
    expect(s(500)).toBe(0.1);
  });

  it("without warmup starts at peakValue", () => {
    const s = warmupCosineDecaySchedule({ initValue: 0, peakValue: 2, warmupSteps: 0, decaySteps: 10 });
    expect(s(0)).toBe(2); // (2 - 0) * 1 + 0
    expect(s(10)).toBe(0);
  });

  it("equals optax's definition: join a linear warmup and a cosine decay with alpha = endValue / peakValue (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 200 }),
        fc.nat(500),
        (initValue, peakValue, endFraction, warmupSteps, decayLength, t) => {
          const endValue = endFraction * peakValue;
          const decaySteps = warmupSteps + decayLength;
          const s = warmupCosineDecaySchedule({ initValue, peakValue, warmupSteps, decaySteps, endValue });
          const optax = joinSchedules(
            [
              linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps }),
              cosineDecaySchedule({ initValue: peakValue, decaySteps: decayLength, alpha: endValue / peakValue }),
            ],
            [warmupSteps],
          );
          // Two orders of the same arithmetic: equal within a few roundings of values <= 1.
          expect(Math.abs(s(t) - optax(t))).toBeLessThanOrEqual(1e-15);
        },
      ),
    );
  });
});

describe("joinSchedules", () => {
  it("restarts each piece's count from 0 at its boundary", () => {
    const seen: number[] = [];
    const record = (t: number): number => (seen.push(t), t);
    const s = joinSchedules([constantSchedule(7), record, record], [3, 5]);
    expect([0, 2, 3, 4, 5, 9].map(s)).toEqual([7, 7, 0, 1, 0, 4]); // 3 - 3, 4 - 3, 5 - 5, 9 - 5
    expect(seen).toEqual([0, 1, 0, 4]);
  });

  it("runs a decay from its own start: constant 1 for 5 steps, then 1 -> 0 over 10", () => {
    const s = joinSchedules(
      [constantSchedule(1), linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 })],
      [5],
    );
    expect(s(4)).toBe(1);
    expect(s(5)).toBe(1); // step 0 of the line
    expect(s(10)).toBe(0.5); // step 5 of the line: (1 - 0) * (1 - 5/10) + 0
    expect(s(15)).toBe(0); // step 10 of the line
  });

  it("of one schedule and no boundaries is that schedule", () => {
    const linear = linearSchedule({ initValue: 3, endValue: 1, transitionSteps: 4 });
    const s = joinSchedules([linear], []);
    expect([0, 2, 4, 8].map(s)).toEqual([0, 2, 4, 8].map(linear));
  });
});

describe("arguments are checked when a schedule is built", () => {
  it.each([
    ["constantSchedule of NaN", () => constantSchedule(NaN), /constantSchedule: value must be a number, got NaN/],
    [
      "linearSchedule with transitionSteps 0",
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 0 }),
      /transitionSteps must be an integer >= 1, got 0/,
    ],
    [
      "linearSchedule with optax's positional arguments",
      () => (linearSchedule as unknown as (...args: number[]) => unknown)(0, 1, 100),
      /^linearSchedule: options must be an object; optax's linear_schedule\(init_value, end_value, transition_steps\) is linearSchedule\(\{ initValue, endValue, transitionSteps \}\)/,
    ],
    [
      "polynomialSchedule with power 0",
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 0, transitionSteps: 5 }),
      /power must be a number > 0, got 0/,
    ],
    [
      "polynomialSchedule with transitionBegin 2.5",
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 5, transitionBegin: 2.5 }),
      /transitionBegin must be an integer >= 0, got 2.5/,
    ],
    [
      "exponentialDecay with decayRate 0",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0 }),
      /decayRate must be a number > 0, got 0/,
    ],
    [
      "exponentialDecay with transitionBegin -1",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, transitionBegin: -1 }),
      /transitionBegin must be an integer >= 0, got -1/,
    ],
    [
      "exponentialDecay with endValue NaN",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, endValue: NaN }),
      /endValue must be a number, got NaN/,
    ],
    [
      "exponentialDecay with staircase 'yes'",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, staircase: "yes" as never }),
      /staircase must be a boolean/,
    ],
    [
      "piecewiseConstantSchedule with a negative scale",
      () => piecewiseConstantSchedule(1, { 10: -1 }),
      /the scale at 10 must be a number >= 0, got -1/,
    ],
    [
      "piecewiseConstantSchedule with a boundary of -5",
      () => piecewiseConstantSchedule(1, { [-5]: 0.5 }),
      /a boundary must be an integer >= 0, got -5/,
    ],
    [
      "cosineDecaySchedule with alpha 2",
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 10, alpha: 2 }),
      /alpha must be a number in \[0, 1\], got 2/,
    ],
    [
      "cosineDecaySchedule with decaySteps 0",
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 0 }),
      /decaySteps must be an integer >= 1, got 0/,
    ],
    [
      "warmupCosineDecaySchedule with decaySteps <= warmupSteps",
      () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
      /decaySteps must be an integer >= 11, got 10/,
    ],
    [
      "warmupCosineDecaySchedule with exponent 0",
      () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 1, decaySteps: 10, exponent: 0 }),
      /exponent must be a number > 0, got 0/,
    ],
    [
      "joinSchedules with too few boundaries",
      () => joinSchedules([constantSchedule(1), constantSchedule(2)], []),
      /boundaries must have one entry fewer than schedules/,
    ],
    [
      "joinSchedules with decreasing boundaries",
      () => joinSchedules([constantSchedule(1), constantSchedule(2), constantSchedule(3)], [5, 2]),
      /boundaries\[1\] must be an integer >= 5, got 2/,
    ],
    ["joinSchedules without schedules", () => joinSchedules([], []), /schedules must be a non-empty array/],
  ])("rejects %s (INVALID_HYPERPARAMETER, naming the argument and its range)", (_, build, message) => {
    expect(build).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
    );
  });
});

describe("edges the mutation run found untested", () => {
  it("each schedule's non-object error says what to write instead", () => {
    const cases: [string, () => unknown, string][] = [
      [
        "polynomialSchedule",
        () => polynomialSchedule(1 as never),
        "polynomialSchedule({ initValue, endValue, power, transitionSteps })",
      ],
      [
        "exponentialDecay",
        () => exponentialDecay(1 as never),
        "exponentialDecay({ initValue, transitionSteps, decayRate })",
      ],
      [
        "cosineDecaySchedule",
        () => cosineDecaySchedule(1 as never),
        "cosineDecaySchedule({ initValue, decaySteps, alpha })",
      ],
      [
        "warmupCosineDecaySchedule",
        () => warmupCosineDecaySchedule(1 as never),
        "warmupCosineDecaySchedule({ initValue, peakValue, warmupSteps, decaySteps })",
      ],
    ];
    for (const [name, build, instead] of cases) {
      expect(messageOf(build)).toContain(`${name}: options must be an object; optax's`);
      expect(messageOf(build)).toContain(instead);
    }
    expect(
      messageOf(() => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 3, power: 2 } as never)),
    ).toMatch(/unknown option "power" \(a linear schedule has power 1: polynomialSchedule takes one\)/);
  });

  it("the notes about optax's reading come only with the degenerate values they are about", () => {
    const note = /optax reads/;
    expect(
      messageOf(() => polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 2.5 })),
    ).not.toMatch(note);
    expect(messageOf(() => exponentialDecay({ initValue: 1, transitionSteps: 2.5, decayRate: 0.5 }))).not.toMatch(note);
    expect(
      messageOf(() =>
        polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 5, transitionBegin: 2.5 }),
      ),
    ).not.toMatch(note);
    expect(
      messageOf(() => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, transitionBegin: 2.5 })),
    ).not.toMatch(note);
    expect(messageOf(() => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: -1 }))).not.toMatch(note);
    // decaySteps below warmupSteps is refused, without the note about a cosine part of 0 steps.
    const short = messageOf(() =>
      warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 5 }),
    );
    expect(short).toMatch(/decaySteps must be an integer >= 11, got 5$/);
  });

  it("exponentialDecay with decayRate exactly 1 treats endValue as a ceiling, as optax (minimum unless rate < 1)", () => {
    // v(t) = 1 * 1^p = 1 everywhere; min(1, 0.5) = 0.5 (max would give 1).
    expect(exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 1, endValue: 0.5 })(20)).toBe(0.5);
    // A rate of 1 without a bound is constant.
    expect(exponentialDecay({ initValue: 3, transitionSteps: 10, decayRate: 1 })(1e6)).toBe(3);
  });

  it("exponentialDecay holds initValue before transitionBegin (no negative exponent)", () => {
    // Counts before the begin would give 0.5^(-0.5) = 1.414... with a negative exponent.
    const s = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, transitionBegin: 10 });
    expect([0, 5, 10].map(s)).toEqual([1, 1, 1]);
    expect(s(20)).toBe(0.5);
  });

  it("cosineDecaySchedule refuses an exponent of 0 or below", () => {
    expect(messageOf(() => cosineDecaySchedule({ initValue: 1, decaySteps: 10, exponent: 0 }))).toMatch(
      /exponent must be a number > 0, got 0/,
    );
    expect(messageOf(() => cosineDecaySchedule({ initValue: 1, decaySteps: 10, exponent: -2 }))).toMatch(/got -2/);
    expect(
      messageOf(() =>
        warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 1, decaySteps: 5, exponent: 0 }),
      ),
    ).toMatch(/exponent must be a number > 0, got 0/);
  });

  it("piecewiseConstantSchedule takes a table without a prototype, and applies every boundary passed", () => {
    const table = Object.assign(Object.create(null) as Record<number, number>, { 10: 0.5, 20: 0.5 });
    const s = piecewiseConstantSchedule(1, table);
    expect([0, 10, 20].map(s)).toEqual([1, 0.5, 0.25]);
    expect(messageOf(() => piecewiseConstantSchedule(1, new Date() as never))).toMatch(
      /boundariesAndScales must be an object/,
    );
  });

  it("joinSchedules refuses a piece that is not a function, a negative first boundary, and says how many it needs", () => {
    const one = constantSchedule(1);
    expect(messageOf(() => joinSchedules([one, 3 as never], [5]))).toMatch(
      /schedules must be a non-empty array of functions/,
    );
    expect(messageOf(() => joinSchedules([3 as never, one], [5]))).toMatch(
      /schedules must be a non-empty array of functions/,
    );
    expect(messageOf(() => joinSchedules([], []))).toMatch(/non-empty/);
    expect(messageOf(() => joinSchedules([one, one], [-1]))).toMatch(/boundaries\[0\] must be an integer >= 0, got -1/);
    expect(messageOf(() => joinSchedules([one, one, one], [5, 3]))).toMatch(
      /boundaries\[1\] must be an integer >= 5, got 3/,
    );
    expect(messageOf(() => joinSchedules([one, one, one], [5]))).toMatch(
      /one entry fewer than schedules \(2\), got 1$/,
    );
    expect(messageOf(() => joinSchedules([one, one], 5 as never))).toMatch(/\(1\), got number$/);
  });

  it("joinSchedules past the last boundary stays on the last piece", () => {
    const s = joinSchedules([constantSchedule(1), (t) => 10 + t, (t) => 100 + t], [2, 4]);
    // t = 1: piece 0; t = 3: piece 1 at 1; t = 4 and 50: piece 2 at 0 and 46.
    expect([1, 3, 4, 50].map(s)).toEqual([1, 11, 100, 146]);
  });
});

/** Asserts `schedule(t)` for t = 0, 1, ... against `expected`, within optax's test tolerance 1e-3. */
function expectValues(schedule: Schedule, expected: readonly number[], tolerance = 1e-3): void {
  expected.forEach((want, t) => {
    const got = schedule(t);
    if (!(Math.abs(got - want) <= tolerance)) expect.fail(`step ${t}: got ${got}, expected ${want}`);
  });
}

describe("warmupConstantSchedule", () => {
  it("rises in a straight line to peakValue over warmupSteps, then stays", () => {
    // 0.1 -> 1.1 over 4 steps: 0.1 + 1 * t / 4.
    expectValues(
      warmupConstantSchedule({ initValue: 0.1, peakValue: 1.1, warmupSteps: 4 }),
      [0.1, 0.35, 0.6, 0.85, 1.1, 1.1, 1.1],
      1e-15,
    );
    expect(warmupConstantSchedule({ initValue: 0, peakValue: 2, warmupSteps: 3 })(1e9)).toBe(2);
  });

  it("refuses warmupSteps 0, saying what optax makes of it and what to write", () => {
    expect(messageOf(() => warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 0 }))).toMatch(
      /^warmupConstantSchedule: warmupSteps must be an integer >= 1, got 0; optax reads warmup_steps <= 0 as a constant schedule of init_value.*constantSchedule\(peakValue\)/,
    );
    expect(codeOf(() => warmupConstantSchedule({ initValue: 0, peakValue: NaN, warmupSteps: 2 }))).toBe(
      "INVALID_HYPERPARAMETER",
    );
  });
});

describe("warmupExponentialDecaySchedule", () => {
  const options = { initValue: 0, peakValue: 1, warmupSteps: 10, transitionSteps: 100, decayRate: 0.5 };
  it("warms up linearly, then decays from peakValue counting from the end of the warmup", () => {
    const s = warmupExponentialDecaySchedule(options);
    expect(s(0)).toBe(0);
    expect(s(5)).toBe(0.5); // 0 + 1 * 5 / 10
    expect(s(10)).toBe(1); // 0.5^0
    expect(s(60)).toBeCloseTo(Math.SQRT1_2, 15); // 0.5^(50 / 100)
    expect(s(210)).toBe(0.25); // 0.5^(200 / 100)
  });

  it("is optax's join of a linear warmup and exponentialDecay, with the decay's options passed on (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 20 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (warmupSteps, transitionSteps, transitionBegin, staircase, t) => {
          const decay = { transitionSteps, decayRate: 0.7, transitionBegin, staircase, endValue: 0.05 };
          const s = warmupExponentialDecaySchedule({ initValue: 0.2, peakValue: 1, warmupSteps, ...decay });
          const want =
            t < warmupSteps
              ? 0.2 + (0.8 * t) / warmupSteps
              : exponentialDecay({ initValue: 1, ...decay })(t - warmupSteps);
          expect(s(t)).toBeCloseTo(want, 14);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("without warmup is the decay alone, and checks the decay's arguments under its own name", () => {
    const s = warmupExponentialDecaySchedule({ ...options, warmupSteps: 0 });
    expect(s(0)).toBe(1);
    expect(s(100)).toBe(0.5);
    expect(messageOf(() => warmupExponentialDecaySchedule({ ...options, decayRate: 0 }))).toMatch(
      /^warmupExponentialDecaySchedule: decayRate must be/,
    );
    expect(codeOf(() => warmupExponentialDecaySchedule({ ...options, warmupSteps: -1 }))).toBe(
      "INVALID_HYPERPARAMETER",
    );
  });
});

describe("piecewiseInterpolateSchedule", () => {
  it("interpolates linearly between accumulated values (optax's test_linear_piecewise)", () => {
    const s = piecewiseInterpolateSchedule("linear", 200, { 5: 1.5, 10: 0.25 });
    expectValues(s, [200, 220, 240, 260, 280, 300, 255, 210, 165, 120, 75, 75, 75]);
  });

  it("interpolates along half cosines, boundaries in any order (optax's test_cos_piecewise)", () => {
    const s = piecewiseInterpolateSchedule("cosine", 400, { 5: 1.2, 3: 0.6, 7: 1.0 });
    expectValues(s, [400, 360, 280, 240, 264, 288, 288, 288, 288]);
  });

  it("without boundaries is constant (optax's test_empty_dict and test_no_dict)", () => {
    expectValues(piecewiseInterpolateSchedule("linear", 13, {}), [13, 13, 13, 13, 13]);
    expectValues(piecewiseInterpolateSchedule("cosine", 17), [17, 17, 17]);
    expectValues(piecewiseInterpolateSchedule("cosine", 17, null), [17, 17, 17]);
  });

  it("applies a boundary of 0 at once (optax's test_zero_interval_size)", () => {
    const s = piecewiseInterpolateSchedule("linear", 13, { 0: 2, 5: 3 });
    expect(s(0)).toBe(26); // 13 * 2
    expect(s(5)).toBe(78); // 26 * 3
    for (let t = 0; t < 6; t++) expect(Number.isFinite(s(t))).toBe(true);
  });

  it("refuses another interpolation and a negative scale (optax's test_invalid_type, test_invalid_scale)", () => {
    expect(codeOf(() => piecewiseInterpolateSchedule("linar" as never, 13))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => piecewiseInterpolateSchedule("" as never, 13, { 5: 3 }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => piecewiseInterpolateSchedule(null as never, 13))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => piecewiseInterpolateSchedule("linear", 13, { 5: -3 }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => piecewiseInterpolateSchedule("linear", 13, { "-1": 2 }))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => piecewiseInterpolateSchedule("linear", 13, [1, 2] as never))).toBe("INVALID_HYPERPARAMETER");
  });

  it("meets each accumulated value at its boundary, and stays between neighbours in between (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<"linear" | "cosine">("linear", "cosine"),
        fc.dictionary(fc.integer({ min: 0, max: 100 }).map(String), fc.double({ min: 0, max: 3, noNaN: true }), {
          maxKeys: 5,
        }),
        (kind, table) => {
          const s = piecewiseInterpolateSchedule(kind, 2, table as Record<number, number>);
          let value = 2;
          let previous = 0;
          for (const [b, scale] of Object.entries(table).map(([k, v]) => [Number(k), v] as const)) {
            const start = value;
            value *= scale;
            expect(s(b)).toBeCloseTo(value, 12);
            for (let t = previous; t < b; t++) {
              expect(s(t)).toBeGreaterThanOrEqual(Math.min(start, value) - 1e-12);
              expect(s(t)).toBeLessThanOrEqual(Math.max(start, value) + 1e-12);
            }
            previous = b;
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("linearOnecycleSchedule", () => {
  it("gives optax's values (test_linear: 10 steps, peak 1000, pctStart 0.3, pctFinal 0.7, div 10, final div 100)", () => {
    const s = linearOnecycleSchedule({
      transitionSteps: 10,
      peakValue: 1000,
      pctStart: 0.3,
      pctFinal: 0.7,
      divFactor: 10,
      finalDivFactor: 100,
    });
    expectValues(s, [100, 400, 700, 1000, 775, 550, 325, 100, 67, 34, 1, 1]);
  });

  it("has optax's defaults: pctStart 0.3, pctFinal 0.85, divFactor 25, finalDivFactor 1e4", () => {
    // 100 steps, peak 1: from 1/25 up to 1 by step 30, back to 1/25 by 85, to 1/25/1e4 by 100.
    const s = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expect(s(0)).toBeCloseTo(0.04, 15);
    expect(s(30)).toBeCloseTo(1, 15);
    expect(s(85)).toBeCloseTo(0.04, 15);
    expect(s(100)).toBeCloseTo(4e-6, 15);
  });

  it("refuses transitionSteps 0 (optax's test_nonpositive_transition_steps) and boundaries that coincide", () => {
    expect(codeOf(() => linearOnecycleSchedule({ transitionSteps: 0, peakValue: 5 }))).toBe("INVALID_HYPERPARAMETER");
    // floor(0.3 * 10) = floor(0.35 * 10) = 3: optax's dict would keep one of them.
    expect(messageOf(() => linearOnecycleSchedule({ transitionSteps: 10, peakValue: 5, pctFinal: 0.35 }))).toMatch(
      /must increase; optax would merge the equal ones/,
    );
    expect(codeOf(() => linearOnecycleSchedule({ transitionSteps: 10, peakValue: 5, pctFinal: 1 }))).toBe(
      "INVALID_HYPERPARAMETER",
    );
    expect(codeOf(() => linearOnecycleSchedule({ transitionSteps: 10, peakValue: 5, divFactor: 0 }))).toBe(
      "INVALID_HYPERPARAMETER",
    );
  });
});

describe("cosineOnecycleSchedule", () => {
  it("gives optax's values (test_cosine: 5 steps, peak 1000, pctStart 0.4, div 10, final div 100)", () => {
    const s = cosineOnecycleSchedule({
      transitionSteps: 5,
      peakValue: 1000,
      pctStart: 0.4,
      divFactor: 10,
      finalDivFactor: 100,
    });
    expectValues(s, [100, 550, 1000, 750.25, 250.75, 1, 1]);
  });

  it("refuses transitionSteps 0 and a pctStart that leaves no decay", () => {
    expect(codeOf(() => cosineOnecycleSchedule({ transitionSteps: 0, peakValue: 5 }))).toBe("INVALID_HYPERPARAMETER");
    expect(messageOf(() => cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 5, pctStart: 1 }))).toMatch(
      /must be below transitionSteps = 10/,
    );
  });
});

describe("sgdrSchedule", () => {
  const cycles = (peaks: readonly number[]) =>
    [2000, 3000, 5000].map((decaySteps, k) => ({
      initValue: 0,
      peakValue: peaks[k]!,
      endValue: 0,
      warmupSteps: 500,
      decaySteps,
    }));
  it.each([
    ["with step decay", [1.6, 0.8, 0.4]],
    ["without step decay", [1.6, 1.6, 1.6]],
  ])("reaches each cycle's peak after its warmup, %s (optax's SGDRTest.test_limits)", (_, peaks) => {
    const s = sgdrSchedule(cycles(peaks));
    expect(s(500)).toBeCloseTo(peaks[0]!, 12);
    expect(s(2500)).toBeCloseTo(peaks[1]!, 12);
    expect(s(5500)).toBeCloseTo(peaks[2]!, 12);
  });

  it("restarts each cycle's count at the end of the previous one's decaySteps", () => {
    const c = cycles([1.6, 0.8, 0.4]);
    const s = sgdrSchedule(c);
    for (const t of [0, 700, 1999]) expect(s(t)).toBe(warmupCosineDecaySchedule(c[0]!)(t));
    for (const t of [2000, 3000, 4999]) expect(s(t)).toBe(warmupCosineDecaySchedule(c[1]!)(t - 2000));
    for (const t of [5000, 9999, 20_000]) expect(s(t)).toBe(warmupCosineDecaySchedule(c[2]!)(t - 5000));
  });

  it("refuses no cycles, and names the cycle whose options are wrong", () => {
    expect(codeOf(() => sgdrSchedule([]))).toBe("INVALID_HYPERPARAMETER");
    const bad = [...cycles([1, 1, 1]).slice(0, 1), { initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }];
    expect(messageOf(() => sgdrSchedule(bad))).toMatch(
      /^sgdrSchedule: cycles\[1\]: warmupCosineDecaySchedule: decaySteps/,
    );
  });
});
