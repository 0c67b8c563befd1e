import { describe, expect, it } from "vitest";
import {
  constantSchedule,
  cosineDecaySchedule,
  exponentialDecay,
  joinSchedules,
  linearSchedule,
  piecewiseConstantSchedule,
  polynomialSchedule,
  warmupCosineDecaySchedule,
} from "../src/index.js";

describe("schedules: values worked out by hand", () => {
  it("constantSchedule is the same at every step", () => {
    expect([0, 1, 1e9].map(constantSchedule(0.3))).toEqual([0.3, 0.3, 0.3]);
  });

  it("linearSchedule holds, moves and holds: 0 -> 1 over 10 steps after 5", () => {
    const s = linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10, transitionBegin: 5 });
    expect([0, 5, 10, 15, 100].map(s)).toEqual([0, 0, 0.5, 1, 1]);
  });

  it("polynomialSchedule of power 2 from 1 to 0 over 10 steps: (1 - t/10)^2", () => {
    const s = polynomialSchedule({ initValue: 1, endValue: 0, power: 2, transitionSteps: 10 });
    expect([0, 5, 10, 20].map(s)).toEqual([1, 0.25, 0, 0]);
  });

  it("exponentialDecay: 0.1 * 0.5^(t/1000), stepwise with staircase, floored by endValue", () => {
    const smooth = exponentialDecay({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5 });
    expect(smooth(0)).toBe(0.1);
    expect(smooth(500)).toBeCloseTo(0.1 * Math.SQRT1_2, 16);
    expect(smooth(2000)).toBeCloseTo(0.025, 16);
    const stairs = exponentialDecay({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5, staircase: true });
    expect([999, 1000, 1999].map(stairs)).toEqual([0.1, 0.05, 0.05]);
    const floored = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2 });
    expect([1, 2, 3, 10].map(floored)).toEqual([0.5, 0.25, 0.2, 0.2]);
    const delayed = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, transitionBegin: 3 });
    expect([0, 3, 4].map(delayed)).toEqual([1, 1, 0.5]);
    const growing = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 });
    expect([1, 2, 3].map(growing)).toEqual([2, 4, 5]);
  });

  it("piecewiseConstantSchedule: the paper's CIFAR schedule divides by 5 at epochs 60, 120 and 160", () => {
    const perEpoch = 391;
    const s = piecewiseConstantSchedule(0.1, { [60 * perEpoch]: 0.2, [120 * perEpoch]: 0.2, [160 * perEpoch]: 0.2 });
    expect(s(0)).toBe(0.1);
    expect(s(60 * perEpoch - 1)).toBe(0.1);
    expect(s(60 * perEpoch)).toBeCloseTo(0.02, 17);
    expect(s(120 * perEpoch)).toBeCloseTo(0.004, 17);
    expect(s(200 * perEpoch)).toBeCloseTo(0.0008, 17);
  });

  it("cosineDecaySchedule: init * ((1 - alpha) * 0.5 (1 + cos(pi t / T)) + alpha), constant after T", () => {
    const s = cosineDecaySchedule({ initValue: 2, decaySteps: 100, alpha: 0.1 });
    expect(s(0)).toBe(2);
    expect(s(50)).toBeCloseTo(2 * (0.9 * 0.5 + 0.1), 15);
    expect(s(100)).toBeCloseTo(0.2, 15);
    expect(s(1000)).toBeCloseTo(0.2, 15);
    expect(cosineDecaySchedule({ initValue: 1, decaySteps: 100, exponent: 2 })(50)).toBeCloseTo(0.25, 15);
  });

  it("warmupCosineDecaySchedule counts the warmup in decaySteps (optax): peak at the end of warmup, end value at decaySteps", () => {
    const s = warmupCosineDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      decaySteps: 110,
      endValue: 0.1,
    });
    expect(s(0)).toBe(0);
    expect(s(5)).toBe(0.5);
    expect(s(10)).toBe(1);
    // Half way through the 100 decay steps: 0.1 + 0.9 * 0.5 (1 + cos(pi / 2)) = 0.55.
    expect(s(60)).toBeCloseTo(0.55, 15);
    expect(s(110)).toBeCloseTo(0.1, 15);
    expect(s(500)).toBeCloseTo(0.1, 15);
  });

  it("joinSchedules restarts each piece's count at its boundary", () => {
    const seen: number[] = [];
    const record = (t: number) => (seen.push(t), t);
    const s = joinSchedules([constantSchedule(7), record, record], [3, 5]);
    expect([0, 2, 3, 4, 5, 9].map(s)).toEqual([7, 7, 0, 1, 0, 4]);
    expect(seen).toEqual([0, 1, 0, 4]);
  });

  it.each([
    [
      "linearSchedule with transitionSteps 0",
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 0 }),
      /transitionSteps/,
    ],
    [
      "polynomialSchedule with power 0",
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 0, transitionSteps: 5 }),
      /power must be a number > 0/,
    ],
    [
      "exponentialDecay with decayRate 0",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0 }),
      /decayRate/,
    ],
    [
      "exponentialDecay with transitionBegin -1",
      () => exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, transitionBegin: -1 }),
      /transitionBegin/,
    ],
    [
      "piecewiseConstantSchedule with a negative scale",
      () => piecewiseConstantSchedule(1, { 10: -1 }),
      /scale at 10 must be a number >= 0/,
    ],
    [
      "cosineDecaySchedule with alpha 2",
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 10, alpha: 2 }),
      /alpha must be a number in \[0, 1\]/,
    ],
    [
      "warmupCosineDecaySchedule with decaySteps <= warmupSteps",
      () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
      /decaySteps must be an integer >= 11/,
    ],
    [
      "joinSchedules with too few boundaries",
      () => joinSchedules([constantSchedule(1), constantSchedule(2)], []),
      /one entry fewer/,
    ],
    [
      "joinSchedules with decreasing boundaries",
      () => joinSchedules([constantSchedule(1), constantSchedule(2), constantSchedule(3)], [5, 2]),
      /boundaries\[1\]/,
    ],
    ["constantSchedule of NaN", () => constantSchedule(NaN), /value/],
  ])("rejects %s when built (INVALID_HYPERPARAMETER)", (_, build, message) => {
    expect(build).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
    );
  });
});
