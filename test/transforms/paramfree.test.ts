/**
 * optax.contrib's parameter-free optimizers: five-step trajectories against the ones worked out
 * in plain Python from optax's formulas (test/fixtures/paramfree.py, its numbers in
 * paramfree.json), on both backends; optax's own doctests; and the laws their state promises.
 */
import { readFileSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  cocob,
  compile,
  adam,
  dadaptAdamw,
  dog,
  dowg,
  mechanize,
  prodigy,
  scaleByDog,
  scheduleFree,
  scheduleFreeAdamw,
  scheduleFreeEvalParams,
  scheduleFreeSgd,
  sgd,
  type GradientTransformation,
} from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { backends, numbers } from "./first-step.js";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/paramfree.json", import.meta.url), "utf8")) as {
  readonly a: number[];
  readonly b: number[];
  readonly x0: number[];
  readonly params: Record<string, number[][]>;
};

const built: Record<string, () => GradientTransformation> = {
  dog: () => dog(),
  "dog distance 0.1": () => dog(1, { initStep: ["distance", 0.1] }),
  "dog learning_rate 0.1, weightDecay 0.05": () => dog(1, { initStep: ["learning_rate", 0.1], weightDecay: 0.05 }),
  dowg: () => dowg(),
  "dowg 0.5, initEstimSqDist 0.01": () => dowg(0.5, { initEstimSqDist: 0.01 }),
  cocob: () => cocob(),
  "cocob 0.5, alpha 10, weightDecay 0.1": () => cocob(0.5, { alpha: 10, weightDecay: 0.1 }),
  prodigy: () => prodigy(),
  "prodigy estimLr0 0.01, weightDecay 0.1, safeguardWarmup": () =>
    prodigy(1, { estimLr0: 0.01, weightDecay: 0.1, safeguardWarmup: true }),
  dadaptAdamw: () => dadaptAdamw(),
  "dadaptAdamw estimLr0 0.01, weightDecay 0.1": () => dadaptAdamw(1, { estimLr0: 0.01, weightDecay: 0.1 }),
  "scheduleFree(sgd(0.5))": () => scheduleFree(sgd(0.5), { learningRate: 0.5 }),
  "scheduleFreeSgd 0.5, warmupSteps 3, b1 0.8, weightLrPower 1": () =>
    scheduleFreeSgd(0.5, { warmupSteps: 3, b1: 0.8, weightLrPower: 1 }),
  "scheduleFreeAdamw 0.1, warmupSteps 2, weightDecay 0.1": () =>
    scheduleFreeAdamw(0.1, { warmupSteps: 2, weightDecay: 0.1 }),
  "mechanize(sgd(1))": () => mechanize(sgd(1)),
  "mechanize(adam(1)), weightDecay 0.1, numBetas 3": () => mechanize(adam(1), { weightDecay: 0.1, numBetas: 3 }),
};

/** The fixture's gradient, A x + B, in the params' dtype. */
const gradient = (x: Float64Array | Float32Array) => x.map((v, i) => fixture.a[i]! * v + fixture.b[i]!);

/** The params after each of `steps` steps of `tx` on the fixture's quadratic, from `x0`. */
function trajectory(tx: GradientTransformation, x0: Float64Array | Float32Array, steps: number): number[][] {
  let x = x0;
  let state = tx.init(x);
  const out: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const [u, next] = tx.update(gradient(x), state, x);
    x = applyUpdates(x, u) as typeof x;
    state = next;
    out.push(numbers(x));
  }
  return out;
}

/** Within `rel` of `expected`, relative to the largest element of the step. */
function expectClose(actual: readonly number[][], expected: readonly number[][], rel: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((x, t) => {
    const scale = Math.max(...expected[t]!.map(Math.abs));
    x.forEach((v, i) =>
      expect(Math.abs(v - expected[t]![i]!), `step ${t}, element ${i}`).toBeLessThanOrEqual(rel * scale),
    );
  });
}

describe.each(backends)("five steps follow optax's formulas, worked out in Python (%s)", (backend) => {
  it("covers every trajectory of the fixture", () => {
    expect(Object.keys(built).sort()).toEqual(Object.keys(fixture.params).sort());
  });

  it.each(Object.keys(fixture.params))("%s, float64", (name) => {
    const got = withBackend(backend, () => trajectory(built[name]!(), Float64Array.from(fixture.x0), 5));
    // The Python sums and bias corrections round in another order: 1e-12 covers it.
    expectClose(got, fixture.params[name]!, 1e-12);
  });

  it.each(Object.keys(fixture.params))("%s, float32: the params stay float32 and follow", (name) => {
    const tx = built[name]!();
    const got = withBackend(backend, () => {
      let x: Float32Array = Float32Array.from(fixture.x0);
      let state = tx.init(x);
      const out: number[][] = [];
      for (let t = 0; t < 5; t++) {
        const [u, next] = tx.update(gradient(x), state, x);
        expect(u).toBeInstanceOf(Float32Array);
        x = applyUpdates(x, u) as Float32Array;
        state = next;
        out.push(numbers(x));
      }
      return out;
    });
    expectClose(got, fixture.params[name]!, 1e-5);
  });
});

describe("optax's doctests", () => {
  /**
   * The losses sum(x^2) after each of five steps from [1, 2, 3], in float32 as optax's doctests
   * run, at the params or at the point `at` gives (schedule-free's evaluation point).
   */
  function losses(
    opt: GradientTransformation,
    at: (state: unknown, y: Float32Array) => Float32Array = (_, y) => y,
  ): number[] {
    let y: Float32Array = Float32Array.of(1, 2, 3);
    let state = opt.init(y);
    const out: number[] = [];
    for (let t = 0; t < 5; t++) {
      const [u, next] = opt.update(
        y.map((v) => 2 * v),
        state,
        y,
      );
      y = applyUpdates(y, u) as Float32Array;
      state = next;
      out.push(at(state, y).reduce((s, v) => s + v * v, 0));
    }
    return out;
  }
  const evalLosses = (opt: GradientTransformation) => losses(opt, scheduleFreeEvalParams);

  it("dowg: the losses of contrib/_dog.py's example", () => {
    // optax/contrib/_dog.py, dowg's docstring: 13.925367, 13.872763, 13.775433, 13.596172, 13.268837 (float32).
    const expected = [13.925367, 13.872763, 13.775433, 13.596172, 13.268837];
    losses(dowg()).forEach((v, t) => expect(Math.abs(v - expected[t]!)).toBeLessThan(2e-5));
  });

  it("scheduleFreeSgd: the losses at the eval params of contrib/_schedule_free.py's example", () => {
    // optax/contrib/_schedule_free.py, schedule_free_sgd's docstring: 1.40E+01, 1.75E-14,
    // 9.96E-01, 8.06E-01, 2.41E-01 (float32; the second is float32 noise around 0).
    const got = evalLosses(scheduleFreeSgd());
    [14.0, 0, 0.996, 0.806, 0.241].forEach((v, t) => expect(Math.abs(got[t]! - v)).toBeLessThan(5e-3));
    expect(got[1]).toBeLessThan(1e-10);
  });

  it("scheduleFreeAdamw(1): the losses at the eval params of contrib/_schedule_free.py's example", () => {
    // optax/contrib/_schedule_free.py, schedule_free_adamw's docstring: 5.00E+00, 3.05E+00,
    // 1.73E+00, 8.94E-01, 4.13E-01 (float32, printed to three digits).
    const got = evalLosses(scheduleFreeAdamw(1));
    [5.0, 3.05, 1.73, 0.894, 0.413].forEach((v, t) => expect(Math.abs(got[t]! - v)).toBeLessThan(5e-3 * v));
  });

  it("dog: the losses of contrib/_dog.py's example (13.99... each: the heuristic's first steps are tiny)", () => {
    for (const v of losses(dog())) {
      expect(v).toBeLessThan(14);
      expect(v).toBeGreaterThan(13.99);
    }
  });
});

describe("what the carried numbers promise", () => {
  // Zeros and subnormals often: a gradient of zeros has no estimate of its own (optax's 0 / 0).
  const element = fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(0, -0, 5e-324));
  const steps = fc.array(fc.array(element, { minLength: 3, maxLength: 3 }), {
    minLength: 1,
    maxLength: 8,
  });

  it("DoG's distance and its sum of squared norms never fall, and its first step is ||x0|| 1e-6 / ||g||", () => {
    fc.assert(
      fc.property(steps, (grads) => {
        const tx = scaleByDog({ initStep: ["heuristic", 1e-6] });
        let x: Float64Array = Float64Array.of(1, -2, 0.5);
        let state = tx.init(x);
        const r0 = 1e-6 * (1 + Math.sqrt(5.25));
        expect(state.maxDist).toBe(r0);
        for (const g of grads) {
          const [u, next] = tx.update(Float64Array.from(g), state, x);
          expect(next.maxDist).toBeGreaterThanOrEqual(state.maxDist);
          expect(next.sumSqNormGrads).toBeGreaterThanOrEqual(state.sumSqNormGrads);
          x = applyUpdates(x, u) as Float64Array;
          state = next;
        }
      }),
      { numRuns: 50 },
    );
  });

  it.each([
    ["prodigy", () => prodigy()],
    ["dadaptAdamw", () => dadaptAdamw()],
  ] as const)("%s's estimate of the learning rate never falls, zero gradients included", (_, make) => {
    fc.assert(
      fc.property(steps, (grads) => {
        const opt = make();
        let x: Float64Array = Float64Array.of(1, -2, 0.5);
        let state = opt.init(x);
        for (const g of grads) {
          const [u, next] = opt.update(Float64Array.from(g), state, x);
          expect(next.estimLr).toBeGreaterThanOrEqual(state.estimLr);
          expect(numbers(u).every(Number.isFinite)).toBe(true);
          expect(next.count).toBe(state.count + 1);
          x = applyUpdates(x, u) as Float64Array;
          state = next;
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("compiled", () => {
  const kernels = Object.keys(built).filter((name) => !name.startsWith("mechanize"));

  it.each(kernels)("%s runs with no part in plain TypeScript, to the pure path's bits", (name) => {
    const x0 = Float32Array.from(fixture.x0);
    const run = compile(built[name]!(), x0);
    try {
      expect(run.reason).toBeUndefined();
      const pure = trajectory(built[name]!(), Float32Array.from(fixture.x0), 5);
      for (let t = 0; t < 5; t++) {
        run.grads.set(gradient(run.params));
        run.step();
        expect(Array.from(run.params), `step ${t}`).toEqual(pure[t]);
      }
    } finally {
      run.dispose();
    }
  });

  it("mechanize is plain TypeScript around its base optimizer, and says so", () => {
    const run = compile(mechanize(sgd(1)), Float32Array.from(fixture.x0));
    expect(run.reason).toMatch(/plain TypeScript/);
    run.dispose();
  });
});

describe("bad input", () => {
  it("an initStep that is not one of optax's tags is INVALID_HYPERPARAMETER naming initStep", () => {
    expect(() => scaleByDog({ initStep: ["bogus" as never, 1] })).toThrowError(
      expect.objectContaining({
        code: "INVALID_HYPERPARAMETER",
        message: expect.stringMatching(/initStep must be a pair/),
      }),
    );
    expect(() => dog(1, { initStep: ["distance", 0] })).toThrowError(/initStep\[1\] must be a number > 0, got 0/);
  });

  it("a carried number that is not a number is BAD_STATE naming it, and nothing is mutated", () => {
    const tx = scaleByDog({ initStep: ["distance", 1] });
    const x = Float64Array.of(1, 2);
    const state = { ...tx.init(x), maxDist: "far" as never };
    const before = structuredClone(state);
    expect(() => tx.update(Float64Array.of(1, 1), state, x)).toThrowError(
      expect.objectContaining({
        code: "BAD_STATE",
        message: expect.stringMatching(/maxDist must be a number, got string/),
      }),
    );
    expect(state).toEqual(before);
  });
});

describe("prodigy's weightDecayMask", () => {
  it("decays the leaves it selects and leaves the others as without decay", () => {
    const params = { a: Float64Array.of(1, -2), b: Float64Array.of(0.5) };
    const grads = { a: Float64Array.of(0.3, 0.1), b: Float64Array.of(-0.4) };
    const step = (opt: GradientTransformation) => opt.update(grads, opt.init(params), params)[0] as typeof params;
    const masked = step(prodigy(1, { weightDecay: 0.5, weightDecayMask: { a: true, b: false } }));
    const decayed = step(prodigy(1, { weightDecay: 0.5 }));
    const plain = step(prodigy());
    // One step from x0: the estimate is the same in all three (its sums do not see the decay).
    expect(Array.from(masked.a)).toEqual(Array.from(decayed.a));
    expect(Array.from(masked.b)).toEqual(Array.from(plain.b));
    expect(Array.from(decayed.b)).not.toEqual(Array.from(plain.b));
  });
});
