/**
 * Combinators: masked, multiTransform, injectHyperparams, applyIfFinite, multiSteps. Expected
 * values are worked out by hand around tiny analytic inner optimizers (`sgd`, `scale`) with the
 * arithmetic written next to them; laws compare a combinator with what it must reduce to.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { sgd, adam } from "../src/optimizers/standard.js";
import { applyUpdates } from "../src/transforms/apply.js";
import { initEmpty, type EmptyState, type GradientTransformation } from "../src/core/base.js";
import { chain } from "../src/combinators/chain.js";
import { applyIfFinite } from "../src/combinators/finite.js";
import { injectHyperparams } from "../src/combinators/inject.js";
import { masked } from "../src/combinators/masked.js";
import { multiSteps } from "../src/combinators/multi-steps.js";
import { multiTransform } from "../src/combinators/multi-transform.js";
import { arbitraryProblem, checkTransformationLaws, fingerprint, runProblem } from "../src/laws/index.js";
import { lookahead, slowParams } from "../src/lookahead/lookahead.js";
import { asLeafLike, flatten, unflatten, dataOf, type PyTree } from "../src/core/pytree.js";
import { constantSchedule, linearSchedule } from "../src/optimizers/schedules.js";
import { trace } from "../src/transforms/accumulation.js";
import { clipByGlobalNorm } from "../src/transforms/clipping.js";
import { scale } from "../src/transforms/scaling.js";
import { expectBitEqual, expectClose, values } from "./helpers.js";

/** A transformation that passes updates through and records what it was given. */
function recorder(): {
  readonly tx: GradientTransformation<EmptyState>;
  readonly inits: PyTree[];
  readonly updates: PyTree[];
  readonly params: (PyTree | undefined)[];
} {
  const inits: PyTree[] = [];
  const updates: PyTree[] = [];
  const params: (PyTree | undefined)[] = [];
  const tx: GradientTransformation<EmptyState> = {
    init: (p) => (inits.push(p), initEmpty(p)),
    update: (u, s, p) => (updates.push(u), params.push(p), [u, s]),
  };
  return { tx, inits, updates, params };
}

const invalid = (message: RegExp, path?: string) =>
  expect.objectContaining({
    code: "INVALID_HYPERPARAMETER",
    message: expect.stringMatching(message),
    ...(path === undefined ? {} : { path }),
  });

describe("every combinator: purity, determinism, structure and dtype, chain identity, finite in, finite out", () => {
  const byDepth = (path: string): boolean => path.length % 2 === 0;
  it.each<[string, GradientTransformation]>([
    ["masked(adam)", masked(adam(0.1), byDepth)],
    [
      "multiTransform(adam, sgd with momentum)",
      multiTransform({ a: adam(0.1), s: sgd(0.1, { momentum: 0.9 }) }, (path) => (byDepth(path) ? "a" : "s")),
    ],
    [
      "injectHyperparams(adam) with a scheduled learning rate",
      injectHyperparams((h) => adam(h.learningRate, { b1: h.b1 }), {
        learningRate: linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 5 }),
        b1: 0.9,
      }),
    ],
    ["applyIfFinite(adam)", applyIfFinite(adam(0.1), 2)],
    ["multiSteps(adam, 3)", multiSteps(adam(0.1), 3)],
  ])("%s", (_, tx) => {
    checkTransformationLaws(tx, { numRuns: 20 });
  });
});

describe("masked", () => {
  it("runs the inner transformation on the selected leaves and passes the others through as the very same arrays", () => {
    const tx = masked(scale(-1), { w: true, b: false });
    const g = { w: Float64Array.of(1, 2), b: Float64Array.of(3) };
    const [u] = tx.update(g, tx.init(g)) as [{ w: Float64Array; b: Float64Array }, unknown];
    expect(Array.from(u.w)).toEqual([-1, -2]); // -1 * 1, -1 * 2
    expect(u.b).toBe(g.b);
  });

  it("takes a predicate of the leaf's path: sgd(0.5) on the weights only", () => {
    const tx = masked(sgd(0.5), (path) => path.endsWith(".w"));
    const params = { layers: [{ w: Float64Array.of(1), b: Float64Array.of(1) }] };
    const g = { layers: [{ w: Float64Array.of(4), b: Float64Array.of(4) }] };
    const [u] = tx.update(g, tx.init(params), params) as [typeof g, unknown];
    expect(Array.from(u.layers[0]!.w)).toEqual([-2]); // -0.5 * 4
    expect(u.layers[0]!.b).toBe(g.layers[0]!.b);
  });

  it("feeds the inner transformation trees in which the masked-out leaves are null", () => {
    const inner = recorder();
    const tx = masked(inner.tx, { w: true, b: false });
    const params = { w: Float64Array.of(1), b: Float64Array.of(2) };
    const g = { w: Float64Array.of(3), b: Float64Array.of(4) };
    tx.update(g, tx.init(params), params);
    expect(inner.inits[0]).toEqual({ w: params.w, b: null });
    expect(inner.updates[0]).toEqual({ w: g.w, b: null });
    expect(inner.params[0]).toEqual({ w: params.w, b: null });
  });

  it("keeps inner state only for the selected leaves", () => {
    const tx = masked(adam(0.1), (path) => path !== "b");
    const mu = tx.init({ w: new Float64Array(2), b: new Float64Array(1) }).inner[0].mu as { w: unknown; b: unknown };
    expect(mu.b).toBeNull();
    expect(mu.w).toEqual(new Float64Array(2));
  });

  it("lets a global quantity see the selected leaves only: the norm of a clip", () => {
    const tx = masked(clipByGlobalNorm(1), { a: true, b: false });
    const g = { a: Float64Array.of(3, 4), b: Float64Array.of(100) };
    const [u] = tx.update(g, tx.init(g)) as [typeof g, unknown];
    // ||a|| = sqrt(9 + 16) = 5 (b's 100 is not counted): a / 5 * 1
    expectClose(u.a, Float64Array.of(0.6, 0.8), 1e-15);
    expect(u.b).toBe(g.b);
  });

  it("with an all-true mask equals the inner transformation (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const a = runProblem(masked(adam(0.1), true), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a)).toBe(fingerprint(b));
      }),
      { numRuns: 40 },
    );
  });

  it("with an all-false mask returns every update leaf as it came (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 3 }), (problem) => {
        const tx = masked(adam(0.1), false);
        let state = tx.init(problem.params);
        for (const g of problem.grads) {
          const [u, next] = tx.update(g, state, problem.params);
          const given = flatten(g).leaves;
          flatten(u).leaves.forEach((leaf, i) => expect(leaf).toBe(given[i]));
          state = next;
        }
      }),
      { numRuns: 30 },
    );
  });

  it("rejects a mask tree that does not fit the params at init, with the path", () => {
    const tx = masked(sgd(1), { w: { deeper: true } } as never);
    expect(() => tx.init({ w: Float64Array.of(1) })).toThrowError(
      expect.objectContaining({ code: "STRUCTURE_MISMATCH", path: "w" }),
    );
  });

  it("rejects a mask that holds something other than booleans when built, with the path", () => {
    expect(() => masked(sgd(1), { w: "yes" } as never)).toThrowError(invalid(/masked: expected a mask/, "w"));
    expect(() => masked(sgd(1), 1 as never)).toThrowError(invalid(/masked: expected a mask/));
  });

  it("rejects a predicate that returns something other than a boolean, with the leaf's path", () => {
    const tx = masked(sgd(1), (() => "yes") as never);
    expect(() => tx.init({ w: Float64Array.of(1) })).toThrowError(invalid(/mask function returned yes/, "w"));
  });
});

describe("multiTransform", () => {
  it("sends each leaf through the transformation of its label", () => {
    const tx = multiTransform({ up: scale(2), down: scale(-1) }, { a: "up", b: { c: "down", d: "up" } });
    const g = { a: Float64Array.of(1), b: { c: Float64Array.of(1), d: Float64Array.of(3) } };
    const [u] = tx.update(g, tx.init(g));
    expect(values(u)).toEqual([2, -1, 6]); // a: 2 * 1, b.c: -1 * 1, b.d: 2 * 3
  });

  it("takes a label per subtree, or a function of the leaf's path", () => {
    const params = { body: { w: Float64Array.of(1), b: Float64Array.of(1) }, head: Float64Array.of(1) };
    const g = { body: { w: Float64Array.of(2), b: Float64Array.of(4) }, head: Float64Array.of(8) };
    const byTree = multiTransform({ body: sgd(0.5), head: sgd(0.25) }, { body: "body", head: "head" });
    const byPath = multiTransform({ body: sgd(0.5), head: sgd(0.25) }, (path) => path.split(".")[0]!);
    // body.b: -0.5 * 4, body.w: -0.5 * 2, head: -0.25 * 8
    expect(values(byTree.update(g, byTree.init(params), params)[0])).toEqual([-2, -1, -2]);
    expect(values(byPath.update(g, byPath.init(params), params)[0])).toEqual([-2, -1, -2]);
  });

  it("shows each transformation only the leaves of its label (the others are null)", () => {
    const first = recorder();
    const second = recorder();
    const tx = multiTransform({ first: first.tx, second: second.tx }, { x: "first", y: "second" });
    const g = { x: Float64Array.of(1), y: Float64Array.of(2) };
    tx.update(g, tx.init(g), g);
    expect(first.updates[0]).toEqual({ x: g.x, y: null });
    expect(second.updates[0]).toEqual({ x: null, y: g.y });
    expect(second.params[0]).toEqual({ x: null, y: g.y });
  });

  it("keeps one state per label under inner, a label no leaf carries included", () => {
    const tx = multiTransform({ used: trace(0.9), spare: trace(0.9) }, "used");
    const state = tx.init({ w: Float64Array.of(1), b: Float64Array.of(2) });
    expect(Object.keys(state.inner).sort()).toEqual(["spare", "used"]);
    expect(state.inner.spare).toEqual({ trace: { b: null, w: null } });
    expect(state.inner.used).toEqual({ trace: { b: new Float64Array(1), w: new Float64Array(1) } });
  });

  it("throws at init for a label with no transformation, naming the leaf", () => {
    const tx = multiTransform({ a: sgd(1) }, (path) => (path === "w" ? "a" : "missing"));
    expect(() => tx.init({ w: Float64Array.of(1), v: Float64Array.of(1) })).toThrowError(
      invalid(/label "missing" has no transformation \(labels: a\)/, "v"),
    );
  });

  it("equals a chain of masked transformations, one per label, as optax defines it (property)", () => {
    const label = (path: string): string => (path.length % 2 === 0 ? "a" : "s");
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const partitioned = multiTransform({ a: adam(0.1), s: sgd(0.1, { momentum: 0.9 }) }, label);
        const chained = chain(
          masked(adam(0.1), (path) => label(path) === "a"),
          masked(sgd(0.1, { momentum: 0.9 }), (path) => label(path) === "s"),
        );
        expect(fingerprint(runProblem(partitioned, problem).params)).toBe(
          fingerprint(runProblem(chained, problem).params),
        );
      }),
      { numRuns: 40 },
    );
  });

  it("with one label for every leaf equals that transformation (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const a = runProblem(multiTransform({ only: adam(0.1) }, "only"), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a)).toBe(fingerprint(b));
      }),
      { numRuns: 40 },
    );
  });

  it("checks its arguments when built", () => {
    expect(() => multiTransform([] as never, "a")).toThrowError(invalid(/transforms must be an object/));
    expect(() => multiTransform({ a: {} as never }, "a")).toThrowError(
      invalid(/transforms\["a"\]: expected a GradientTransformation/),
    );
    expect(() => multiTransform({ a: sgd(1) }, { w: 3 } as never)).toThrowError(invalid(/expected labels/, "w"));
  });
});

describe("injectHyperparams", () => {
  it("with constant hyperparameters follows the plain factory's trajectory bit for bit (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 8 }), (problem) => {
        const injected = injectHyperparams((h) => adam(h.learningRate, { b1: h.b1 }), { learningRate: 0.1, b1: 0.8 });
        const a = runProblem(injected, problem).params;
        const b = runProblem(adam(0.1, { b1: 0.8 }), problem).params;
        expect(fingerprint(a)).toBe(fingerprint(b));
      }),
      { numRuns: 40 },
    );
  });

  it("exposes the hyperparameters in the state and takes a replaced value from the next step on", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), { lr: 0.1 });
    const p = Float64Array.of(1);
    const s0 = tx.init(p);
    expect(s0).toMatchObject({ count: 0, hyperparams: { lr: 0.1 } });
    const [u1, s1] = tx.update(Float64Array.of(1), s0, p);
    expect(values(u1)).toEqual([-0.1]); // -0.1 * 1
    const [u2, s2] = tx.update(Float64Array.of(1), { ...s1, hyperparams: { lr: 0.5 } }, p);
    expect(values(u2)).toEqual([-0.5]); // -0.5 * 1
    expect(s2).toMatchObject({ count: 2, hyperparams: { lr: 0.5 } });
  });

  it("evaluates a schedule at the count before the step and writes the value into the state", () => {
    // lr(t) = 1 - t / 4
    const tx = injectHyperparams((h) => sgd(h.lr), {
      lr: linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 }),
    });
    let state = tx.init(Float64Array.of(0));
    expect(state.hyperparams.lr).toBe(1); // lr(0), what the first step will use
    const used: number[] = [];
    const updates: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [u, next] = tx.update(Float64Array.of(1), state, Float64Array.of(0));
      state = next;
      used.push(state.hyperparams.lr!);
      updates.push(values(u)[0]!);
    }
    expect(used).toEqual([1, 0.75, 0.5]); // lr(0), lr(1), lr(2)
    expect(updates).toEqual([-1, -0.75, -0.5]); // -lr(t) * 1
  });

  it("recomputes a scheduled hyperparameter at every step, so replacing it has no effect (as optax)", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), { lr: constantSchedule(0.1) });
    const p = Float64Array.of(0);
    const [u] = tx.update(Float64Array.of(1), { ...tx.init(p), hyperparams: { lr: 0.5 } }, p);
    expect(values(u)).toEqual([-0.1]);
  });

  it("keeps static options static: lookahead's syncPeriod in the factory, its alpha injected and changed", () => {
    const tx = injectHyperparams((h) => lookahead(sgd(0.1), { syncPeriod: 2, alpha: h.alpha }), { alpha: 0.5 });
    let params: PyTree = Float64Array.of(1);
    let state = tx.init(params);
    const step = (): void => {
      const [u, next] = tx.update(Float64Array.of(1), state, params);
      params = applyUpdates(params, u);
      state = next;
    };
    step();
    step();
    // Two sgd steps of -0.1 from 1 reach 0.8; the sync lands half way: 1 + 0.5 * (0.8 - 1) = 0.9.
    expect(values(params)[0]).toBeCloseTo(0.9, 15);
    state = { ...state, hyperparams: { alpha: 1 } };
    step();
    step();
    // 0.9 -> 0.8 -> 0.7; the sync with alpha 1 keeps the fast weights: 0.9 + 1 * (0.7 - 0.9) = 0.7.
    expect(values(params)[0]).toBeCloseTo(0.7, 15);
    expectBitEqual(params, slowParams(state));
  });

  it("calls the factory once at construction, with the first step's values, and once per init and step", () => {
    let calls = 0;
    const seen: number[] = [];
    const tx = injectHyperparams(
      (h) => {
        calls++;
        seen.push(h.lr);
        return sgd(h.lr);
      },
      { lr: linearSchedule({ initValue: 0.3, endValue: 0, transitionSteps: 3 }) },
    );
    expect(calls).toBe(1);
    expect(seen).toEqual([0.3]);
    const p = Float64Array.of(0);
    tx.update(Float64Array.of(1), tx.init(p), p);
    expect(calls).toBe(3);
  });

  it("gives every init its own hyperparams record: editing one state in place leaves the others alone", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), { lr: 0.1 });
    const first = tx.init(Float64Array.of(0));
    (first.hyperparams as Record<string, number>).lr = 0.7;
    expect(tx.init(Float64Array.of(0)).hyperparams.lr).toBe(0.1);
  });

  it("rejects bad hyperparameters when built, through the factory's own checks", () => {
    expect(() => injectHyperparams((h) => adam(h.lr), { lr: -1 })).toThrowError(invalid(/adam: learningRate/));
    expect(() =>
      injectHyperparams((h) => lookahead(sgd(0.1), { alpha: h.alpha }), {
        alpha: linearSchedule({ initValue: 2, endValue: 0, transitionSteps: 4 }),
      }),
    ).toThrowError(invalid(/alpha must be a number in \[0, 1\], got 2/));
    expect(() => injectHyperparams((h) => sgd(h.lr), { lr: "0.1" as never })).toThrowError(
      invalid(/lr must be a number or a schedule/),
    );
    expect(() => injectHyperparams(() => ({}) as never, {})).toThrowError(
      invalid(/the factory's result: expected a GradientTransformation/),
    );
  });

  it("checks a replaced value at the step that reads it", () => {
    const tx = injectHyperparams((h) => sgd(h.lr), { lr: 0.1 });
    const p = Float64Array.of(0);
    const s = tx.init(p);
    expect(() => tx.update(p, { ...s, hyperparams: { lr: NaN } }, p)).toThrowError(invalid(/sgd: learningRate/));
    expect(() => tx.update(p, { ...s, hyperparams: {} }, p)).toThrowError(
      expect.objectContaining({ code: "BAD_STATE", message: expect.stringMatching(/hyperparams.lr/) }),
    );
  });
});

describe("applyIfFinite", () => {
  it("skips non-finite steps with zero updates and the inner state untouched, counting them as optax", () => {
    const tx = applyIfFinite(sgd(0.1, { momentum: 0.9 }), 2);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const steps = [1, NaN, -Infinity, 1].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      const skipped = next.inner === state.inner;
      state = next;
      return {
        u: values(u)[0]!,
        skipped,
        count: next.notFiniteCount,
        total: next.totalNotFinite,
        last: next.lastFinite,
      };
    });
    expect(steps.map((s) => s.skipped)).toEqual([false, true, true, false]);
    expect(steps.map((s) => s.count)).toEqual([0, 1, 2, 0]);
    expect(steps.map((s) => s.total)).toEqual([0, 1, 2, 2]);
    expect(steps.map((s) => s.last)).toEqual([true, false, false, true]);
    expect(steps[1]!.u).toBe(0);
    expect(steps[2]!.u).toBe(0);
    // The momentum never saw the bad steps: trace = 1, then 0.9 * 1 + 1 = 1.9.
    expect(steps[0]!.u).toBeCloseTo(-0.1, 15); // -0.1 * 1
    expect(steps[3]!.u).toBeCloseTo(-0.19, 15); // -0.1 * 1.9
  });

  it("gives up after more than maxConsecutiveErrors bad steps in a row and applies them, as optax", () => {
    const tx = applyIfFinite(sgd(0.1), 1);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const applied = [NaN, NaN, NaN, 1, NaN].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      state = next;
      return values(u)[0] !== 0;
    });
    // notFiniteCount 1 (skip), 2 > 1 (apply), 3 > 1 (apply), 0 (finite), 1 (skip again)
    expect(applied).toEqual([false, true, true, true, false]);
    expect(state.totalNotFinite).toBe(4);
  });

  it("with maxConsecutiveErrors 0 skips nothing", () => {
    const tx = applyIfFinite(sgd(1), 0);
    const p = Float64Array.of(0);
    const [u, state] = tx.update(Float64Array.of(NaN), tx.init(p), p);
    expect(Number.isNaN(values(u)[0])).toBe(true);
    expect(state.notFiniteCount).toBe(1);
  });

  it("returns zeros of the updates' dtypes and leaf kinds", () => {
    const tx = applyIfFinite(sgd(1), 3);
    const w = ndarray(Float32Array.of(1, NaN, 3, 4), [2, 2]);
    const b = Float64Array.of(1);
    const [u] = tx.update({ w, b }, tx.init({ w, b }), { w, b }) as [
      { w: ndarray.NdArray<Float32Array>; b: Float64Array },
      unknown,
    ];
    expect(u.w.shape).toEqual([2, 2]);
    expect(u.w.data).toEqual(new Float32Array(4));
    expect(u.b).toEqual(new Float64Array(1));
  });

  it("with finite gradients equals the inner optimizer (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        const a = runProblem(applyIfFinite(adam(0.1), 2), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a)).toBe(fingerprint(b));
      }),
      { numRuns: 40 },
    );
  });

  it("keeps a NaN out of Lookahead's slow weights even at a sync step", () => {
    const tx = applyIfFinite(lookahead(sgd(0.1), { syncPeriod: 1 }), 3);
    const p = Float64Array.of(1);
    const [, state] = tx.update(Float64Array.of(NaN), tx.init(p), p);
    expect(values(slowParams(state))).toEqual([1]);
  });
});

/** The running mean acc + (g - acc) / (n + 1) of float64 trees, as a tree of the first's kinds. */
function runningMean(trees: readonly PyTree[]): PyTree {
  const first = flatten(trees[0]);
  const means = first.leaves.map((leaf) => new Float64Array(dataOf(leaf).length));
  trees.forEach((tree, n) =>
    flatten(tree).leaves.forEach((leaf, i) => {
      const g = dataOf(leaf);
      const acc = means[i]!;
      for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + (g[j]! - acc[j]!) / (n + 1);
    }),
  );
  return unflatten(
    first.def,
    first.leaves.map((leaf, i) => asLeafLike(leaf, means[i]!)),
  );
}

describe("multiSteps", () => {
  it("returns zeros on the mini-steps and the inner update of the mean gradient on the k-th", () => {
    const tx = multiSteps(sgd(1), 3);
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const innerStates: unknown[] = [state.inner];
    const outs = [1, 2, 6, 4, 8, 0].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      state = next;
      innerStates.push(state.inner);
      return { u: values(u)[0], miniStep: next.miniStep, acc: values(next.accGrads)[0] };
    });
    // Running mean: 1; 1 + (2 - 1) / 2 = 1.5; 1.5 + (6 - 1.5) / 3 = 3, so sgd(1) gives -3.
    // Second round: 4; 4 + (8 - 4) / 2 = 6; 6 + (0 - 6) / 3 = 4, so -4.
    expect(outs.map((o) => o.u)).toEqual([0, 0, -3, 0, 0, -4]);
    expect(outs.map((o) => o.miniStep)).toEqual([1, 2, 0, 1, 2, 0]);
    expect(outs.map((o) => o.acc)).toEqual([1, 1.5, 0, 4, 6, 0]);
    expect(state.gradientStep).toBe(2);
    // The inner state moves only on the k-th steps.
    expect(innerStates[1]).toBe(innerStates[0]);
    expect(innerStates[2]).toBe(innerStates[0]);
  });

  it("keeps the updates' dtypes and leaf kinds in the zeros of a mini-step", () => {
    const tx = multiSteps(sgd(1), 2);
    const w = ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const [u] = tx.update({ w }, tx.init({ w }), { w }) as [{ w: ndarray.NdArray<Float32Array> }, unknown];
    expect(u.w.shape).toEqual([2, 2]);
    expect(u.w.data).toEqual(new Float32Array(4));
  });

  it("takes k from a schedule of the inner step count: 1 for the first step, then 2", () => {
    const tx = multiSteps(sgd(1), (gradientStep) => (gradientStep === 0 ? 1 : 2));
    const p = Float64Array.of(0);
    let state = tx.init(p);
    const outs = [1, 2, 4].map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state, p);
      state = next;
      return values(u)[0];
    });
    expect(outs).toEqual([-1, 0, -3]); // -1; then the mean of 2 and 4, 2 + (4 - 2) / 2 = 3
  });

  it("with k = 1 equals the inner optimizer (property)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        const a = runProblem(multiSteps(adam(0.1), 1), problem).params;
        const b = runProblem(adam(0.1), problem).params;
        expect(fingerprint(a)).toBe(fingerprint(b));
      }),
      { numRuns: 40 },
    );
  });

  it("trains like the inner optimizer on the mean of every k mini-batches (property)", () => {
    const problems = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).chain(([k, rounds]) =>
      arbitraryProblem({ minSteps: k * rounds, maxSteps: k * rounds, dtypes: ["float64"] }).map((problem) => ({
        k,
        problem,
      })),
    );
    fc.assert(
      fc.property(problems, ({ k, problem }) => {
        const accumulated = runProblem(multiSteps(adam(0.1), k), problem);
        const means: PyTree[] = [];
        for (let r = 0; r * k < problem.grads.length; r++)
          means.push(runningMean(problem.grads.slice(r * k, (r + 1) * k)));
        const direct = runProblem(adam(0.1), { params: problem.params, grads: means });
        direct.params.forEach((params, r) => {
          // Equal up to the sign of zero: a mini-step adds +0 to the params.
          expectClose(accumulated.params[(r + 1) * k - 1], params, 0, `round ${r + 1}`);
        });
        accumulated.updates.forEach((u, t) => {
          if ((t + 1) % k !== 0) expect(values(u).every((x) => x === 0)).toBe(true);
        });
      }),
      { numRuns: 40 },
    );
  });

  it("checks k when built, and a scheduled k when it is read", () => {
    expect(() => multiSteps(sgd(1), 0)).toThrowError(invalid(/everyKSteps must be an integer >= 1, got 0/));
    expect(() => multiSteps(sgd(1), 2.5)).toThrowError(invalid(/everyKSteps must be an integer >= 1, got 2.5/));
    const tx = multiSteps(sgd(1), () => 0);
    const p = Float64Array.of(0);
    expect(() => tx.update(p, tx.init(p), p)).toThrowError(invalid(/everyKSteps gave 0 at step 0/));
  });
});
