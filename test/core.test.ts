import * as E from "fp-ts/lib/Either.js";
import { concatAll } from "fp-ts/lib/Monoid.js";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  addDecayedWeights,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  identity,
  initEither,
  lookahead,
  monoidTransformation,
  safeFactory,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  trace,
  tree,
  updateEither,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { checkChainAssociativity, checkTransformationLaws, runProblem } from "../src/laws/index.js";
import { arbitraryProblem } from "../src/laws/index.js";
import * as fc from "fast-check";
import { expectBitEqual, expectClose, trajectory, values } from "./helpers.js";

const optimizers: [string, GradientTransformation][] = [
  ["identity()", identity()],
  ["scale(-0.5)", scale(-0.5)],
  ["sgd(0.1)", sgd(0.1)],
  ["sgd(0.1, momentum 0.9, nesterov)", sgd(0.1, { momentum: 0.9, nesterov: true })],
  ["adam(0.1)", adam(0.1)],
  ["adam(0.1, nesterov, epsRoot 1e-8)", adam(0.1, { nesterov: true, epsRoot: 1e-8 })],
  ["adamw(0.1, weightDecay 0.01)", adamw(0.1, { weightDecay: 0.01 })],
  ["clipByGlobalNorm(1)", clipByGlobalNorm(1)],
  ["lookahead(adam(0.1))", lookahead(adam(0.1), { syncPeriod: 3 })],
  ["chain(clipByGlobalNorm(1), lookahead(adam(1e-3)))", chain(clipByGlobalNorm(1), lookahead(adam(1e-3)))],
  ["lookahead(lookahead(sgd(0.1), k 5), k 3)", lookahead(lookahead(sgd(0.1), { syncPeriod: 5 }), { syncPeriod: 3 })],
];

describe("every core optimizer: purity, determinism, structure and dtype, chain identity, finite in finite out", () => {
  it.each(optimizers)("%s", (_, tx) => {
    checkTransformationLaws(tx, { numRuns: 40 });
  });
});

describe("chain: a monoid on update trajectories", () => {
  it("is associative: chain(a, chain(b, c)) == chain(chain(a, b), c) == chain(a, b, c)", () => {
    checkChainAssociativity(clipByGlobalNorm(1), trace(0.9, { nesterov: true }), scaleByLearningRate(0.1), {
      numRuns: 40,
    });
    checkChainAssociativity(scaleByAdam(), addDecayedWeights(0.01), lookahead(sgd(0.5)), {
      numRuns: 40,
    });
  });

  it("is the monoidTransformation of fp-ts: concatAll folds with chain, empty is identity", () => {
    const folded = concatAll(monoidTransformation)([scaleByAdam(), scaleByLearningRate(0.1)]);
    const problem = fc.sample(arbitraryProblem(), { numRuns: 1, seed: 7 })[0]!;
    expectBitEqual(runProblem(folded, problem).params.at(-1)!, runProblem(adam(0.1), problem).params.at(-1)!);
    const empty = concatAll(monoidTransformation)([]);
    const g = Float64Array.of(1, 2);
    expect(empty.update(g, empty.init(g))[0]).toBe(g);
  });

  it("keeps one state per part, in order, and passes params to every part", () => {
    const tx = chain(trace(0.5), addDecayedWeights(1), scale(2));
    const p = Float64Array.of(10);
    const state = tx.init(p);
    expect(state).toHaveLength(3);
    // trace: 1; decay: 1 + 1 * 10 = 11; scale: 22.
    expect(values(tx.update(Float64Array.of(1), state, p)[0])).toEqual([22]);
  });
});

describe("transforms: first steps by hand from the equations", () => {
  it("scaleByAdam: t = 1 gives m/(sqrt(v)+eps) with m = g, v = g^2 after bias correction", () => {
    const tx = scaleByAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 });
    const g = Float64Array.of(0.5, -2);
    const [u1, s1] = tx.update(g, tx.init(g));
    // mu = 0.1 g, nu = 0.001 g^2; mu / 0.1 = g; nu / 0.001 = g^2; u = g / (|g| + 1e-8).
    expectClose(u1, Float64Array.of(0.5 / (0.5 + 1e-8), -2 / (2 + 1e-8)), 1e-15);
    // Step 2 with g again: mu = 0.9*0.1g + 0.1g = 0.19 g, corrected by 1 - 0.81 = 0.19 -> g;
    // nu = 0.999*0.001 g^2 + 0.001 g^2 = 0.001999 g^2, corrected by 1 - 0.998001 = 0.001999 -> g^2.
    const [u2, s2] = tx.update(g, s1);
    expectClose(u2, Float64Array.of(0.5 / (0.5 + 1e-8), -2 / (2 + 1e-8)), 1e-15);
    expect((s2 as { count: number }).count).toBe(2);
    expectClose((s2 as { mu: PyTree }).mu, Float64Array.of(0.19 * 0.5, 0.19 * -2), 1e-15);
  });

  it("scaleByAdam nesterov: t = 1 gives (b1 mu/(1-b1^2) + (1-b1) g/(1-b1)) / (|g| + eps)", () => {
    const tx = scaleByAdam({ nesterov: true, eps: 0 });
    const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
    // mu = 0.2; m = 0.9 * 0.2 / 0.19 + 0.1 * 2 / 0.1 = 0.947368... + 2; v corrected = 4 -> sqrt 2.
    expectClose(u, Float64Array.of((0.9 * 0.2) / (1 - 0.81) / 2 + 1), 1e-15);
  });

  it("trace: heavy ball trace' = g + decay * trace; nesterov returns g + decay * trace'", () => {
    const heavy = trace(0.9);
    const nesterov = trace(0.9, { nesterov: true });
    const g = Float64Array.of(1);
    const h = trajectory(heavy, g, () => g, 2);
    const n = trajectory(nesterov, g, () => g, 2);
    expect(values(h[0]!.updates)).toEqual([1]);
    expect(values(h[1]!.updates)).toEqual([1 + 0.9 * 1]);
    expect(values(n[0]!.updates)).toEqual([1 + 0.9 * 1]);
    expect(values(n[1]!.updates)).toEqual([1 + 0.9 * (1 + 0.9)]);
  });

  it("clipByGlobalNorm: (3, 4) has norm 5 and becomes (0.6, 0.8) under maxNorm 1; below maxNorm the very same tree comes back", () => {
    const tx = clipByGlobalNorm(1);
    const g = { a: Float64Array.of(3), b: Float64Array.of(4) };
    expect(values(tx.update(g, tx.init(g))[0])).toEqual([(3 / 5) * 1, (4 / 5) * 1]);
    const small = { a: Float64Array.of(0.3), b: Float64Array.of(0.4) };
    expect(tx.update(small, tx.init(small))[0]).toBe(small);
  });

  it("clipByGlobalNorm: the norm is summed accurately over many leaves and does not overflow", () => {
    // 1e6 leaves of 1e-8 squared is 1e-10: naive summation after a 1 loses it.
    const leaves: Float64Array[] = [
      Float64Array.of(1),
      ...Array.from({ length: 1000 }, () => new Float64Array(1000).fill(1e-8)),
    ];
    const exact = Math.sqrt(1 + 1e6 * 1e-16);
    expect(Math.abs(tree.globalNorm(leaves) - exact)).toBeLessThanOrEqual(Number.EPSILON);
    expect(tree.globalNorm([Float64Array.of(3e200, 4e200)])).toBeCloseTo(5e200, -190);
  });

  it("addDecayedWeights: u + wd * p, with masked-out leaves passed through as the same object", () => {
    const p = { w: Float64Array.of(2), b: Float64Array.of(3) };
    const g = { w: Float64Array.of(1), b: Float64Array.of(1) };
    const byTree = addDecayedWeights(0.5, { mask: { w: true, b: false } });
    const [u] = byTree.update(g, byTree.init(p), p) as [{ w: Float64Array; b: Float64Array }, unknown];
    expect(Array.from(u.w)).toEqual([1 + 0.5 * 2]);
    expect(u.b).toBe(g.b);
    const byPredicate = addDecayedWeights(0.5, { mask: (path) => path !== "b" });
    expect(values(byPredicate.update(g, byPredicate.init(p), p)[0])).toEqual(values(u));
  });

  it("scaleByLearningRate with a schedule reads the count before the increment: step 1 uses schedule(0)", () => {
    const seen: number[] = [];
    const tx = scaleByLearningRate((t) => (seen.push(t), 0.1 * (t + 1)));
    const run = trajectory(tx, Float64Array.of(1), () => Float64Array.of(1), 3);
    expect(seen).toEqual([0, 1, 2]);
    expect(run.map((r) => values(r.updates)[0])).toEqual([-0.1, -0.2, -0.1 * 3]);
  });

  describe("short trajectories on f(x) = sum(x^2) from x0 = [1, 2, 3] (gradient 2x), worked out by hand", () => {
    const x0 = [1, 2, 3];
    const run = (tx: GradientTransformation, steps: number) =>
      trajectory(tx, Float64Array.from(x0), (p) => tree.scale(2, p), steps).map((point) => point.params);

    it("sgd(0.1): x_{t+1} = x_t - 0.2 x_t = 0.8 x_t, so x_t = 0.8^t x0", () => {
      run(sgd(0.1), 5).forEach((x, t) =>
        expectClose(
          x,
          Float64Array.from(x0, (v) => 0.8 ** (t + 1) * v),
          1e-15,
          `step ${t + 1}`,
        ),
      );
    });

    it("sgd(0.1, momentum 0.9): m' = 2x + 0.9 m, x' = x - 0.1 m', linear in x0", () => {
      // From x0 = 1: m1 = 2, x1 = 0.8; m2 = 1.6 + 1.8 = 3.4, x2 = 0.46; m3 = 0.92 + 3.06 = 3.98,
      // x3 = 0.062; m4 = 0.124 + 3.582 = 3.706, x4 = -0.3086; m5 = -0.6172 + 3.3354 = 2.7182,
      // x5 = -0.58042. Every coordinate is x0 times that sequence.
      const fromOne = [0.8, 0.46, 0.062, -0.3086, -0.58042];
      run(sgd(0.1, { momentum: 0.9 }), 5).forEach((x, t) =>
        expectClose(
          x,
          Float64Array.from(x0, (v) => fromOne[t]! * v),
          1e-14,
          `step ${t + 1}`,
        ),
      );
    });

    it("adam(0.1): the first step is -0.1 sign(g) up to eps, the second follows the bias-corrected moments", () => {
      const [x1, x2] = run(adam(0.1), 2);
      // Step 1: m = 0.1 g, v = 0.001 g^2; corrected, m^ = g and v^ = g^2: x1 = x0 - 0.1 g / (|g| + 1e-8).
      const g0 = x0.map((v) => 2 * v);
      const first = x0.map((v, i) => v - (0.1 * g0[i]!) / (Math.abs(g0[i]!) + 1e-8));
      expectClose(x1!, Float64Array.from(first), 1e-15, "step 1");
      expectClose(x1!, Float64Array.of(0.9, 1.9, 2.9), 1e-9, "step 1 is -0.1 sign(g)");
      // Step 2, g1 = 2 x1: m = 0.9 (0.1 g0) + 0.1 g1, v = 0.999 (0.001 g0^2) + 0.001 g1^2,
      // x2 = x1 - 0.1 (m / (1 - 0.9^2)) / (sqrt(v / (1 - 0.999^2)) + 1e-8).
      const second = first.map((v, i) => {
        const g1 = 2 * v;
        const m = 0.9 * 0.1 * g0[i]! + 0.1 * g1;
        const s = 0.999 * 0.001 * g0[i]! ** 2 + 0.001 * g1 ** 2;
        return v - (0.1 * (m / 0.19)) / (Math.sqrt(s / (1 - 0.998001)) + 1e-8);
      });
      expectClose(x2!, Float64Array.from(second), 1e-12, "step 2");
    });

    it("adamw(0.1): the first step adds the decoupled decay, x1 = x0 - 0.1 (sign(g) + 1e-4 x0)", () => {
      const [x1] = run(adamw(0.1), 1);
      expectClose(
        x1!,
        Float64Array.from(x0, (v) => v - 0.1 * (1 + 1e-4 * v)),
        1e-9,
        "step 1",
      );
    });
  });

  it("adamw multiplies the decay by the learning rate: p' = p - lr (adam_update + wd p)", () => {
    const p = Float64Array.of(1);
    const opt = adamw(0.1, { weightDecay: 0.5, eps: 0 });
    const [u] = opt.update(Float64Array.of(4), opt.init(p), p);
    // The first Adam update is sign(g) = 1: u = -0.1 * (1 + 0.5 * 1).
    expectClose(u, Float64Array.of(-0.1 * 1.5), 1e-16);
  });

  it("step counters saturate at Number.MAX_SAFE_INTEGER instead of losing integrality", () => {
    const tx = scaleByAdam();
    const g = Float64Array.of(1);
    const [, s] = tx.update(g, { ...tx.init(g), count: Number.MAX_SAFE_INTEGER });
    expect(s.count).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe("applyUpdates", () => {
  it("adds leafwise into new arrays and leaves both inputs alone", () => {
    const p = { w: Float64Array.of(1, 2) };
    const u = { w: Float64Array.of(0.5, -1) };
    const out = applyUpdates(p, u);
    expect(Array.from(out.w)).toEqual([1.5, 1]);
    expect(out.w).not.toBe(p.w);
    expect(Array.from(p.w)).toEqual([1, 2]);
  });
});

describe("fp-ts face: the same checks as Either", () => {
  it("safeFactory returns Left for bad hyperparameters and Right for good ones", () => {
    const safeAdam = safeFactory(adam);
    const bad = safeAdam(-1);
    expect(E.isLeft(bad) && bad.left.code).toBe("INVALID_HYPERPARAMETER");
    expect(E.isRight(safeAdam(0.1))).toBe(true);
  });

  it("initEither and updateEither return Left instead of throwing", () => {
    const tx = sgd(0.1, { momentum: 0.9 });
    const init = initEither(tx)({ w: [1, 2] } as never);
    expect(E.isLeft(init) && init.left.code).toBe("NOT_A_PYTREE");
    const state = tx.init({ w: Float64Array.of(1) });
    const step = updateEither(tx)({ v: Float64Array.of(1) }, state);
    expect(E.isLeft(step) && step.left.code).toBe("STRUCTURE_MISMATCH");
    const ok = updateEither(tx)({ w: Float64Array.of(1) }, state);
    expect(E.isRight(ok)).toBe(true);
  });
});

describe("fusion inside chain is invisible: the same bits as running the parts one by one", () => {
  /** Runs the parts' own update methods in sequence: no fusion anywhere. */
  function unfused(parts: GradientTransformation[]): GradientTransformation {
    return {
      init: (params) => parts.map((p) => p.init(params)),
      update(updates, state, params) {
        const states = state as unknown[];
        let u = updates;
        const next = parts.map((part, i) => {
          const [ui, si] = part.update(u, states[i], params);
          u = ui;
          return si;
        });
        return [u, next];
      },
    };
  }
  const cases: [string, () => GradientTransformation[]][] = [
    ["clip, adam, lr", () => [clipByGlobalNorm(0.5), scaleByAdam(), scaleByLearningRate(0.1)]],
    ["clip, lookahead(adam)", () => [clipByGlobalNorm(0.5), lookahead(adam(0.1), { syncPeriod: 2 })]],
    [
      "clip, trace nesterov, schedule",
      () => [clipByGlobalNorm(0.5), trace(0.9, { nesterov: true }), scaleByLearningRate((t) => 0.1 / (t + 1))],
    ],
    [
      "clip, chain(adam, lr), scale",
      () => [clipByGlobalNorm(0.5), chain(scaleByAdam(), scaleByLearningRate(0.1)), scale(3)],
    ],
    ["adam, scale, scale", () => [scaleByAdam(), scale(-0.5), scale(3)]],
  ];
  it.each(cases)("%s", (_, parts) => {
    const fused = chain(...parts());
    const plain = unfused(parts());
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6, maxMagnitude: 3 }), (problem) => {
        const a = runProblem(fused, problem);
        const b = runProblem(plain, problem);
        a.params.forEach((p, t) => expectBitEqual(p, b.params[t]!, `params after step ${t + 1}`));
      }),
      { numRuns: 60 },
    );
  });
});
