import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyIfFinite,
  applyUpdates,
  injectHyperparams,
  linearSchedule,
  lookahead,
  masked,
  multiSteps,
  multiTransform,
  scale,
  sgd,
  slowParams,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, fingerprint, runProblem } from "../src/laws/index.js";
import { expectBitEqual, values } from "./helpers.js";

describe("masked", () => {
  it("runs the inner transformation on the selected leaves and passes the others through as the same arrays", () => {
    const tx = masked(scale(-1), { w: true, b: false });
    const g = { w: Float64Array.of(1, 2), b: Float64Array.of(3) };
    const [u] = tx.update(g, tx.init(g)) as [{ w: Float64Array; b: Float64Array }, unknown];
    expect(Array.from(u.w)).toEqual([-1, -2]);
    expect(u.b).toBe(g.b);
  });

  it("keeps inner state only for the selected leaves", () => {
    const tx = masked(adam(0.1), (path) => path !== "b");
    const state = tx.init({ w: new Float64Array(2), b: new Float64Array(1) }) as { inner: [{ mu: { b: unknown } }] };
    expect(state.inner[0].mu.b).toBeNull();
  });

  it("with an all-true mask equals the inner transformation (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const a = runProblem(masked(adam(0.1), true), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a.map(values))).toBe(fingerprint(b.map(values)));
      }),
      { numRuns: 40 },
    );
  });

  it("rejects a mask tree that does not fit the params, with the path", () => {
    const tx = masked(sgd(1), { w: { deeper: true } } as never);
    expect(() => tx.init({ w: Float64Array.of(1) })).toThrowError(
      expect.objectContaining({ code: "STRUCTURE_MISMATCH", path: "w" }),
    );
  });
});

describe("multiTransform", () => {
  it("sends each leaf through the transformation of its label", () => {
    const tx = multiTransform({ up: scale(2), down: scale(-1) }, { a: "up", b: { c: "down", d: "up" } });
    const g = { a: Float64Array.of(1), b: { c: Float64Array.of(1), d: Float64Array.of(3) } };
    const [u, s] = tx.update(g, tx.init(g));
    expect(values(u)).toEqual([2, -1, 6]);
    expect(Object.keys(s.inner)).toEqual(["down", "up"]);
  });

  it("throws at init for a label with no transformation, naming the leaf", () => {
    const tx = multiTransform({ a: sgd(1) }, (path) => (path === "w" ? "a" : "missing"));
    expect(() => tx.init({ w: Float64Array.of(1), v: Float64Array.of(1) })).toThrowError(
      expect.objectContaining({
        code: "INVALID_HYPERPARAMETER",
        path: "v",
        message: expect.stringMatching(/label "missing"/),
      }),
    );
  });

  it("with one label equals that transformation (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const a = runProblem(multiTransform({ only: adam(0.1) }, "only"), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a.map(values))).toBe(fingerprint(b.map(values)));
      }),
      { numRuns: 40 },
    );
  });
});

describe("injectHyperparams", () => {
  it("with constant hyperparameters follows the plain factory's trajectory (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 8 }), (problem) => {
        const injected = injectHyperparams((h) => adam(h.lr, { b1: h.b1 }), { lr: 0.1, b1: 0.8 });
        const a = runProblem(injected, problem).params;
        const b = runProblem(adam(0.1, { b1: 0.8 }), problem).params;
        expect(fingerprint(a.map(values))).toBe(fingerprint(b.map(values)));
      }),
      { numRuns: 40 },
    );
  });

  it("exposes the hyperparameters for logging and takes a changed value from the next step on", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), { lr: 0.1 });
    const p = Float64Array.of(1);
    const s0 = tx.init(p);
    expect(s0.hyperparams).toEqual({ lr: 0.1 });
    const [u1, s1] = tx.update(Float64Array.of(1), s0, p);
    expect(values(u1)).toEqual([-0.1]);
    const [u2, s2] = tx.update(Float64Array.of(1), { ...s1, hyperparams: { lr: 0.5 } }, p);
    expect(values(u2)).toEqual([-0.5]);
    expect(s2.hyperparams.lr).toBe(0.5);
  });

  it("evaluates a schedule at the count before the step and records it", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), {
      lr: linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 }),
    });
    let state = tx.init(Float64Array.of(0));
    const lrs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [, next] = tx.update(Float64Array.of(1), state, Float64Array.of(0));
      state = next;
      lrs.push(state.hyperparams.lr!);
    }
    expect(lrs).toEqual([1, 0.75, 0.5]);
  });

  it("keeps static options static: lookahead's syncPeriod inside the factory, alpha injected", () => {
    const tx = injectHyperparams((h) => lookahead(sgd(0.1), { syncPeriod: 2, alpha: h.alpha }), { alpha: 0.5 });
    let params: PyTree = Float64Array.of(1);
    let state = tx.init(params);
    for (let i = 0; i < 2; i++) {
      const [u, next] = tx.update(Float64Array.of(1), state, params);
      params = applyUpdates(params, u);
      state = next;
    }
    // Two sgd steps of -0.1 from 1 reach 0.8; the sync at step 2 lands half way: 0.9.
    expect(values(params)[0]).toBeCloseTo(0.9, 15);
    expectBitEqual(params, slowParams(state));
  });
});

describe("applyIfFinite", () => {
  it("skips non-finite steps with zero updates and an unchanged inner state, counting them", () => {
    const tx = applyIfFinite(sgd(0.1, { momentum: 0.9 }), 2);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const steps = [1, NaN, Infinity, 1].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      const skipped = next.inner === state.inner;
      state = next;
      return {
        u: values(u)[0],
        skipped,
        count: next.notFiniteCount,
        total: next.totalNotFinite,
        last: next.lastFinite,
      };
    });
    expect(steps.map((s) => s.skipped)).toEqual([false, true, true, false]);
    expect(steps[1]!.u).toBe(0);
    expect(steps.map((s) => s.count)).toEqual([0, 1, 2, 0]);
    expect(steps.map((s) => s.total)).toEqual([0, 1, 2, 2]);
    expect(steps.map((s) => s.last)).toEqual([true, false, false, true]);
  });

  it("gives up after more than maxConsecutiveErrors bad steps and applies the update, as optax", () => {
    const tx = applyIfFinite(sgd(0.1), 1);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const applied = [NaN, NaN, NaN].map(() => {
      const [u, next] = tx.update(Float64Array.of(NaN), state, p);
      state = next;
      return Number.isNaN(values(u)[0]!);
    });
    expect(applied).toEqual([false, true, true]);
  });

  it("keeps a NaN out of Lookahead's slow weights even at a sync step", () => {
    const tx = applyIfFinite(lookahead(sgd(0.1), { syncPeriod: 1 }), 3);
    const p = Float64Array.of(1);
    const [, state] = tx.update(Float64Array.of(NaN), tx.init(p), p);
    expect(values(slowParams(state))).toEqual([1]);
  });
});

describe("multiSteps", () => {
  it("returns zeros on the mini-steps and the inner update of the mean gradient on the k-th", () => {
    const tx = multiSteps(sgd(1), 3);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const outs = [1, 2, 6].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      state = next;
      return values(u)[0];
    });
    // The mean of 1, 2, 6 is 3; sgd(1) turns it into -3.
    expect(outs).toEqual([0, 0, -3]);
    expect(state.miniStep).toBe(0);
    expect(state.gradientStep).toBe(1);
    expect(values(state.accGrads)).toEqual([0]);
  });

  it("with k = 1 equals the inner optimizer (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        const a = runProblem(multiSteps(adam(0.1), 1), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a.map(values))).toBe(fingerprint(b.map(values)));
      }),
      { numRuns: 40 },
    );
  });

  it("accumulates k mini-batches into one Adam step on their mean", () => {
    fc.assert(
      fc.property(arbitraryProblem({ minSteps: 4, maxSteps: 4, dtypes: ["float64"] }), (problem) => {
        const accumulated = runProblem(multiSteps(adam(0.1), 4) as GradientTransformation, problem);
        // The documented running mean, acc + (g - acc) / (n + 1); a plain (a + b + c + d) / 4 can
        // differ from it in the last bits, which Adam's first step amplifies near zero.
        const grads = problem.grads.map(values);
        const mean = grads[0]!.map((_, i) => grads.reduce((acc, g, n) => acc + (g[i]! - acc) / (n + 1), 0));
        const direct = adam(0.1);
        const [u] = direct.update(Float64Array.from(mean), direct.init(Float64Array.from(mean)));
        const got = values(accumulated.updates[3]!);
        got.forEach((x, i) => expect(Math.abs(x - values(u)[i]!)).toBeLessThanOrEqual(1e-12));
        expect(accumulated.updates.slice(0, 3).every((t) => values(t).every((x) => x === 0))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
