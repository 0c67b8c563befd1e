/**
 * The transformations that read a leaf's shape: short trajectories against optax's formulas
 * worked out with numpy (test/fixtures/factored.py, its numbers in factored.json), optax's
 * doctests and tests where they give numbers, the state's shapes, and the checks of a step.
 */
import { readFileSync } from "node:fs";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adafactor,
  applyUpdates,
  centralize,
  chain,
  GradTxError,
  muon,
  scaleByFactoredRms,
  scaleByMuon,
  scaleBySm3,
  sgd,
  sm3,
  type FactoredState,
  type GradientTransformation,
  type PyTree,
} from "../../src/index.js";
import * as fc from "fast-check";
import { arbitraryLike, checkTransformationLaws, type Problem } from "../../src/laws/index.js";
import { expectNear, numbers, type Dtype } from "./first-step.js";

interface Trajectory {
  readonly shape: number[];
  readonly grads: number[][];
  readonly updates: number[][];
}

export const fixture = JSON.parse(readFileSync(new URL("../fixtures/factored.json", import.meta.url), "utf8")) as {
  readonly factoredRms: Record<string, Trajectory & { readonly options: Record<string, number | boolean> }>;
  readonly adafactor: Record<
    string,
    {
      readonly shape: number[];
      readonly lr: number;
      readonly x0: number[];
      readonly minDimSizeToFactor?: number;
      readonly grads?: number[][];
      readonly params: number[][];
    }
  >;
};

/** `values` as a leaf of `shape` and `dtype`: a typed array for a vector, else an ndarray. */
export function shaped(values: readonly number[], shape: readonly number[], dtype: Dtype = "float64"): PyTree {
  const data = dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
  return shape.length === 1 ? data : (ndarray(data, shape.slice()) as PyTree);
}

/** The updates of `tx` over `grads`, from `tx.init(params)`, as plain numbers per step. */
export function updatesOf(
  tx: GradientTransformation,
  grads: readonly number[][],
  shape: readonly number[],
  dtype: Dtype = "float64",
  params: PyTree = shaped(new Array<number>(grads[0]!.length).fill(1), shape, dtype),
): number[][] {
  let state = tx.init(params);
  return grads.map((g) => {
    const [u, next] = tx.update(shaped(g, shape, dtype), state, params);
    state = next;
    return numbers(u);
  });
}

const rmsOptions = (o: Record<string, number | boolean>) => ({
  ...(o.min_dim === undefined ? {} : { minDimSizeToFactor: o.min_dim as number }),
  ...(o.factored === undefined ? {} : { factored: o.factored as boolean }),
  ...(o.decay_rate === undefined ? {} : { decayRate: o.decay_rate as number }),
});

describe("scaleByFactoredRms: three steps follow optax's formulas, worked out with numpy", () => {
  it.each(Object.keys(fixture.factoredRms))("%s, float64", (name) => {
    const c = fixture.factoredRms[name]!;
    const got = updatesOf(scaleByFactoredRms(rmsOptions(c.options)), c.grads, c.shape);
    // numpy sums its means in another order: a few ulps apart.
    got.forEach((u, t) => expectNear(u, c.updates[t]!, "float64", 64));
  });

  it.each(Object.keys(fixture.factoredRms))("%s, float32: each operation rounded to float32", (name) => {
    const c = fixture.factoredRms[name]!;
    const got = updatesOf(scaleByFactoredRms(rmsOptions(c.options)), c.grads, c.shape, "float32");
    // The float32 inputs are the float64 grads rounded, and every operation rounds again.
    got.forEach((u, t) => expectNear(u, c.updates[t]!, "float32", 96));
  });
});

describe("scaleByFactoredRms: the state", () => {
  const tx = scaleByFactoredRms({ minDimSizeToFactor: 2 });
  const params = {
    w: ndarray(new Float32Array(12), [3, 4]),
    t: ndarray(new Float64Array(24), [2, 4, 3]),
    b: new Float32Array(5),
  };

  it("factored leaves keep row and column accumulators of the reduced shapes, in the params' dtype", () => {
    const s = tx.init(params) as unknown as Record<"vRow" | "vCol" | "v", Record<string, unknown>>;
    // [3, 4]: the largest axis is 1, the second largest 0: vRow drops axis 1, vCol axis 0.
    expect(s.vRow.w).toBeInstanceOf(Float32Array);
    expect((s.vRow.w as Float32Array).length).toBe(3);
    expect((s.vCol.w as Float32Array).length).toBe(4);
    expect((s.v.w as Float32Array).length).toBe(1);
    // [2, 4, 3]: d0 = 1 (4), d1 = 2 (3): vRow is [2, 3], vCol [2, 4], both ndarrays.
    expect((s.vRow.t as { shape: number[] }).shape).toEqual([2, 3]);
    expect((s.vCol.t as { shape: number[] }).shape).toEqual([2, 4]);
    // A vector is not factored: v is like the leaf, the others hold one zero.
    expect(s.v.b).toBeInstanceOf(Float32Array);
    expect((s.v.b as Float32Array).length).toBe(5);
    expect((s.vRow.b as Float32Array).length).toBe(1);
  });

  it("keeps the dtype and kind of each update leaf, and counts steps", () => {
    const g = {
      w: ndarray(
        Float32Array.from({ length: 12 }, (_, i) => i - 5),
        [3, 4],
      ),
      t: ndarray(
        Float64Array.from({ length: 24 }, (_, i) => Math.sin(i)),
        [2, 4, 3],
      ),
      b: Float32Array.of(1, 2, 3, 4, 5),
    };
    const [u, s] = tx.update(g, tx.init(params), params);
    const out = u as Record<string, { data?: unknown; shape?: number[] }>;
    expect(out.w!.data).toBeInstanceOf(Float32Array);
    expect(out.w!.shape).toEqual([3, 4]);
    expect(out.t!.data).toBeInstanceOf(Float64Array);
    expect(out.b).toBeInstanceOf(Float32Array);
    expect(s.count).toBe(1);
  });

  it("a leaf whose shape changed since init is SHAPE_MISMATCH at its path, and nothing is mutated", () => {
    const s = tx.init(params);
    const before = JSON.stringify(numbersOfState(s));
    const bad = { ...params, w: ndarray(new Float32Array(12), [4, 3]) };
    expect(() => tx.update(bad, s, bad)).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH", path: "w", message: "w: expected shape [3,4], got [4,3]" }),
    );
    expect(JSON.stringify(numbersOfState(s))).toBe(before);
  });

  it("a corrupted accumulator is BAD_STATE naming it and the leaf", () => {
    const s = tx.init(params);
    const broken = { ...s, vRow: { ...(s.vRow as object), w: new Float32Array(4) } };
    let error: unknown;
    try {
      tx.update(params, broken, params);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GradTxError);
    expect(error).toMatchObject({ code: "BAD_STATE", path: "w" });
    expect((error as Error).message).toMatch(/vRow holds 4 elements for this leaf, expected 3/);
  });

  it("stepOffset restarts the schedule: at count k with stepOffset k, the first step's decay (0)", () => {
    const g = shaped(
      Array.from({ length: 12 }, (_, i) => Math.cos(i)),
      [3, 4],
    );
    const p = shaped(new Array<number>(12).fill(0), [3, 4]);
    const fresh = scaleByFactoredRms({ minDimSizeToFactor: 2 });
    const offset = scaleByFactoredRms({ minDimSizeToFactor: 2, stepOffset: 4 });
    const [want] = fresh.update(g, fresh.init(p));
    // The accumulators are irrelevant at decay 0: only the count moves the schedule.
    const [got] = offset.update(g, { ...offset.init(p), count: 4 });
    expect(numbers(got)).toEqual(numbers(want));
  });

  it("bad options are INVALID_HYPERPARAMETER naming the option", () => {
    expect(() => scaleByFactoredRms({ decayRate: 0 })).toThrowError(/decayRate must be a number > 0, got 0/);
    expect(() => scaleByFactoredRms({ minDimSizeToFactor: 1.5 })).toThrowError(/minDimSizeToFactor must be an integer/);
    expect(() => scaleByFactoredRms({ eps: 1 } as never)).toThrowError(/epsilon/);
  });
});

function numbersOfState(s: unknown): number[] {
  const { vRow, vCol, v } = s as FactoredState;
  return [...numbers(vRow), ...numbers(vCol), ...numbers(v)];
}

describe("adafactor", () => {
  it("optax's doctest: sum(x^2) from [1, 2, 3] at learning rate 0.003 prints 1.39E+01 ... 1.36E+01", () => {
    // optax/_src/alias.py, adafactor's docstring.
    const c = fixture.adafactor["doctest sum(x^2), lr 0.003"]!;
    const opt = adafactor(0.003);
    let x: Float64Array = Float64Array.from(c.x0);
    let state = opt.init(x);
    const printed: string[] = [];
    c.params.forEach((want) => {
      const [u, next] = opt.update(
        x.map((v) => 2 * v),
        state,
        x,
      );
      x = applyUpdates(x, u) as Float64Array;
      state = next;
      expectNear(Array.from(x), want, "float64", 16);
      printed.push(x.reduce((s, v) => s + v * v, 0).toExponential(2));
    });
    expect(printed).toEqual(["1.39e+1", "1.38e+1", "1.38e+1", "1.37e+1", "1.36e+1"]);
  });

  it("a factored [3, 4] matrix, three steps, against the numpy chain", () => {
    const c = fixture.adafactor["[3,4] minDim 2, lr 0.1"]!;
    const opt = adafactor(c.lr, { minDimSizeToFactor: c.minDimSizeToFactor! });
    let p = shaped(c.x0, c.shape);
    let state = opt.init(p);
    c.grads!.forEach((g, t) => {
      const [u, next] = opt.update(shaped(g, c.shape), state, p);
      p = applyUpdates(p, u);
      state = next;
      expectNear(numbers(p), c.params[t]!, "float64", 64);
    });
  });

  it("without a learning rate, clipping or parameter scale, it is scaleByFactoredRms then -1", () => {
    const g = Float64Array.of(3, -4, 0.5);
    const bare = adafactor(null, { clippingThreshold: null, multiplyByParameterScale: false });
    const [u] = bare.update(g, bare.init(g), g);
    const rms = scaleByFactoredRms();
    const [v] = rms.update(g, rms.init(g));
    expect(numbers(u)).toEqual(numbers(v).map((x) => -x));
  });

  it("momentum and weight decay add an ema and a decay step (a state per part)", () => {
    const opt = adafactor(0.1, { momentum: 0.9, weightDecayRate: 0.01 });
    const state = opt.init(Float64Array.of(1, 2)) as unknown[];
    // factored rms, clip, lr, param scale, ema, decay, -1.
    expect(state.length).toBe(7);
  });
});

const sm3Fixture = JSON.parse(readFileSync(new URL("../fixtures/factored.json", import.meta.url), "utf8")) as {
  readonly sm3: Record<string, Trajectory & { readonly b1?: number; readonly b2?: number }>;
  readonly sm3Alias: { readonly x0: number[]; readonly lr: number; readonly values: number[] };
};

describe("scaleBySm3: three steps follow optax's formulas, worked out with numpy", () => {
  it.each(Object.keys(sm3Fixture.sm3))("%s, float64 and float32", (name) => {
    const c = sm3Fixture.sm3[name]!;
    const options = { ...(c.b1 === undefined ? {} : { b1: c.b1 }), ...(c.b2 === undefined ? {} : { b2: c.b2 }) };
    updatesOf(scaleBySm3(options), c.grads, c.shape).forEach((u, t) => expectNear(u, c.updates[t]!, "float64", 16));
    updatesOf(scaleBySm3(options), c.grads, c.shape, "float32").forEach((u, t) =>
      expectNear(u, c.updates[t]!, "float32", 64),
    );
  });

  it("keeps one accumulator per index of each axis, in the params' dtype", () => {
    const tx = scaleBySm3();
    const p = { w: ndarray(new Float32Array(24), [2, 3, 4]), b: new Float64Array(5) };
    const s = tx.init(p) as unknown as { mu: { w: Float32Array[]; b: Float64Array[] } };
    expect(s.mu.w.map((a) => [a.constructor.name, a.length])).toEqual([
      ["Float32Array", 2],
      ["Float32Array", 3],
      ["Float32Array", 4],
    ]);
    expect(s.mu.b.map((a) => a.length)).toEqual([5]);
  });

  it("a zero accumulator gives a zero update (optax's 0 / 0 = 0), not NaN", () => {
    const tx = scaleBySm3();
    const [u] = tx.update(Float64Array.of(0, 2), tx.init(new Float64Array(2)));
    expect(numbers(u)[0]).toBe(0);
  });

  it("a leaf whose shape changed since init is SHAPE_MISMATCH at its path", () => {
    const tx = scaleBySm3();
    const p = { w: ndarray(new Float64Array(6), [2, 3]) };
    const bad = { w: ndarray(new Float64Array(6), [3, 2]) };
    expect(() => tx.update(bad, tx.init(p), bad)).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH", path: "w" }),
    );
  });

  it("a missing axis accumulator is BAD_STATE", () => {
    const tx = scaleBySm3();
    const p = { w: ndarray(new Float64Array(6), [2, 3]) };
    const s = tx.init(p) as unknown as { mu: { w: Float64Array[] } };
    const broken = { ...s, mu: { w: [s.mu.w[0]!] } };
    expect(() => tx.update(p, broken as never)).toThrowError(expect.objectContaining({ code: "BAD_STATE" }));
  });
});

describe("sm3", () => {
  it("optax's doctest: sum(x^2) from [1, 2, 3] at 0.003 prints 1.40E+01 five times", () => {
    // optax/_src/alias.py, sm3's docstring; the losses themselves from the numpy script.
    const c = sm3Fixture.sm3Alias;
    const opt = sm3(c.lr);
    let x: Float64Array = Float64Array.from(c.x0);
    let state = opt.init(x);
    const losses = c.values.map(() => {
      const [u, next] = opt.update(
        x.map((v) => 2 * v),
        state,
        x,
      );
      x = applyUpdates(x, u) as Float64Array;
      state = next;
      return x.reduce((s, v) => s + v * v, 0);
    });
    expectNear(losses, c.values, "float64", 16);
    expect(losses.map((l) => l.toExponential(2))).toEqual(new Array(5).fill("1.40e+1"));
  });
});

describe("centralize", () => {
  // optax/_src/transform_test.py, test_centralize, and centralize's doctest.
  it.each([
    ["1d", [1, 2], [2], [1, 2]],
    ["2d", [1, 2, 3, 4], [2, 2], [-0.5, 0.5, -0.5, 0.5]],
    ["3d", [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], [-1.5, -0.5, 0.5, 1.5, -1.5, -0.5, 0.5, 1.5]],
    ["doctest", [1, 2, 3, 4, 5, 6], [2, 3], [-1, 0, 1, -1, 0, 1]],
  ])("%s", (_, g, shape, want) => {
    for (const dtype of ["float64", "float32"] as const) {
      const tx = centralize();
      const leaf = shaped(g, shape, dtype);
      const [u] = tx.update(leaf, tx.init(leaf));
      expect(numbers(u)).toEqual(want);
    }
  });

  it("passes vectors through as the very same tree, and checks the shapes", () => {
    const tx = centralize();
    const g = { b: Float64Array.of(1, 2) };
    expect(tx.update(g, tx.init(g))[0]).toBe(g);
    const p = { w: ndarray(new Float64Array(6), [2, 3]) };
    const bad = { w: ndarray(new Float64Array(6), [3, 2]) };
    expect(() => tx.update(bad, tx.init(p))).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH", path: "w" }),
    );
  });
});

const muonFixture = JSON.parse(readFileSync(new URL("../fixtures/factored.json", import.meta.url), "utf8")) as {
  readonly muon: Record<string, Trajectory & { readonly nesterov?: boolean; readonly adaptive?: boolean }>;
  readonly muonAlias: {
    readonly lr: number;
    readonly weightDecay: number;
    readonly w: { shape: number[]; x0: number[]; grads: number[][]; params: number[][] };
    readonly b: { shape: number[]; x0: number[]; grads: number[][]; params: number[][] };
    readonly wConsistentRms: number[][];
  };
};

/** The largest |(X^T X - I)_ij| of a rows by cols matrix with rows >= cols (or of X X^T otherwise). */
function orthogonalityError(x: readonly number[], rows: number, cols: number): number {
  const k = Math.min(rows, cols);
  let worst = 0;
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let dot = 0;
      if (rows >= cols) for (let r = 0; r < rows; r++) dot += x[r * cols + i]! * x[r * cols + j]!;
      else for (let c = 0; c < cols; c++) dot += x[i * cols + c]! * x[j * cols + c]!;
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  return worst;
}

describe("scaleByMuon: three steps follow optax's formulas, worked out with numpy", () => {
  it.each(Object.keys(muonFixture.muon))("%s, float64 and float32", (name) => {
    const c = muonFixture.muon[name]!;
    const options = {
      ...(c.nesterov === undefined ? {} : { nesterov: c.nesterov }),
      ...(c.adaptive === undefined ? {} : { adaptive: c.adaptive }),
    };
    // Five Newton–Schulz steps amplify the roundings of the products a little.
    updatesOf(scaleByMuon(options), c.grads, c.shape).forEach((u, t) => expectNear(u, c.updates[t]!, "float64", 4096));
    updatesOf(scaleByMuon(options), c.grads, c.shape, "float32").forEach((u, t) =>
      u.forEach((x, e) => expect(Math.abs(x - c.updates[t]![e]!)).toBeLessThan(1e-4)),
    );
  });

  it("Newton–Schulz with optax's test coefficients (2, -1.5, 0.5) and 20 steps makes X^T X = I", () => {
    // optax/contrib/_muon_test.py, test_newton_schulz: a 4 by 3 matrix, coefficients (2, -1.5, 0.5), 20 steps, eps 1e-12.
    const g = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4, -0.7, 0.9, 1.1, 0.2, -1.3, 0.6];
    const tx = scaleByMuon({ nsCoeffs: [2, -1.5, 0.5], nsSteps: 20, eps: 1e-12, nesterov: false, beta: 0 });
    const [u] = updatesOf(tx, [g], [4, 3]);
    expect(orthogonalityError(u!, 4, 3)).toBeLessThan(1e-5);
    // The same, wide: X X^T = I.
    const [v] = updatesOf(tx, [g], [3, 4]);
    expect(orthogonalityError(v!, 3, 4)).toBeLessThan(1e-5);
  });

  it("optax's test_orthogonality: muon's update of 2 I (8 by 8) has X^T X near a multiple of I", () => {
    const eye = Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 2 : 0));
    const opt = muon(0.1);
    const p = { w: shaped(eye, [8, 8]) };
    const [u] = opt.update(p, opt.init(p), p);
    const x = numbers(u);
    // gram / max(gram), then its distance to I (Frobenius), below 1e-3 as in optax's test.
    const gram: number[] = [];
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++) {
        let dot = 0;
        for (let r = 0; r < 8; r++) dot += x[r * 8 + i]! * x[r * 8 + j]!;
        gram.push(dot);
      }
    const top = Math.max(...gram);
    const error = Math.sqrt(gram.reduce((s, v, k) => s + (v / top - (k % 9 === 0 ? 1 : 0)) ** 2, 0));
    expect(error).toBeLessThan(1e-3);
  });

  it("with the default coefficients the singular values land near 1 (optax's iteration is fast, not exact)", () => {
    const c = muonFixture.muon["scaleByMuon [3, 4]"]!;
    const [u] = updatesOf(scaleByMuon(), c.grads, c.shape);
    // X X^T's diagonal is within [0.3, 1.6] and its off-diagonal small next to it.
    expect(orthogonalityError(u!, 3, 4)).toBeLessThan(0.7);
  });

  it("a leaf that is not a 2-D ndarray is SHAPE_MISMATCH at its path, at init", () => {
    const tx = scaleByMuon();
    expect(() => tx.init({ b: new Float64Array(3) })).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH", path: "b" }),
    );
  });

  it("bad options are INVALID_HYPERPARAMETER naming them", () => {
    expect(() => scaleByMuon({ nsCoeffs: [1, 2] as never })).toThrowError(/nsCoeffs must be a triple/);
    expect(() =>
      scaleByMuon({
        nsCoeffs: [
          [1, 2, 3],
          [1, 2, 3],
        ],
        nsSteps: 1,
      }),
    ).toThrowError(/more than nsSteps/);
    expect(() => scaleByMuon({ preconditioning: "aol" as never })).toThrowError(/preconditioning must be "frobenius"/);
    expect(() => muon(0.1, { nsCoeffs: "polar" as never })).toThrowError(/"standard" or "dion"/);
  });
});

describe("muon", () => {
  const c = muonFixture.muonAlias;
  const run = (opt: GradientTransformation): { w: number[]; b: number[] }[] => {
    let p: PyTree = { w: shaped(c.w.x0, c.w.shape), b: shaped(c.b.x0, c.b.shape) };
    let state = opt.init(p);
    return c.w.grads.map((gw, t) => {
      const [u, next] = opt.update({ w: shaped(gw, c.w.shape), b: shaped(c.b.grads[t]!, c.b.shape) }, state, p);
      p = applyUpdates(p, u);
      state = next;
      const q = p as { w: PyTree; b: PyTree };
      return { w: numbers(q.w), b: numbers(q.b) };
    });
  };

  it("the matrix takes Muon's steps with width scaling and weight decay, the vector AdamW's with Nesterov", () => {
    run(muon(c.lr, { weightDecay: c.weightDecay })).forEach((p, t) => {
      expectNear(p.w, c.w.params[t]!, "float64", 4096);
      expectNear(p.b, c.b.params[t]!, "float64", 64);
    });
  });

  it("consistentRms scales by sqrt(max(fanIn, fanOut)) * consistentRms instead", () => {
    run(muon(c.lr, { weightDecay: c.weightDecay, consistentRms: 0.2 })).forEach((p, t) =>
      expectNear(p.w, c.wConsistentRms[t]!, "float64", 4096),
    );
  });

  it("labels by the params' shapes at init: a flat gradient of a matrix still takes Muon's step", () => {
    const opt = muon(c.lr);
    const p = { w: shaped(c.w.x0, c.w.shape), b: shaped(c.b.x0, c.b.shape) };
    const shapedGrads = { w: shaped(c.w.grads[0]!, c.w.shape), b: shaped(c.b.grads[0]!, c.b.shape) };
    const flatGrads = { w: Float64Array.from(c.w.grads[0]!), b: shaped(c.b.grads[0]!, c.b.shape) };
    const [want] = opt.update(shapedGrads, opt.init(p), p);
    const [got] = opt.update(flatGrads, opt.init(p), p);
    expect(numbers(got)).toEqual(numbers(want));
    // And a matrix whose shape changed is SHAPE_MISMATCH at its path.
    const turned = { ...shapedGrads, w: shaped(c.w.grads[0]!, [4, 3]) };
    expect(() => opt.update(turned, opt.init(p))).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH", path: "w" }),
    );
  });
});

/**
 * Training problems whose params are all matrices (2-D ndarrays of 2 to 5 rows and columns, one
 * float32 and one float64, one of them a transposed view) next to a vector: every leaf that can
 * be factored, orthogonalized or centralized is.
 */
const matrixProblems: fc.Arbitrary<Problem> = fc
  .record({
    rows: fc.integer({ min: 2, max: 5 }),
    cols: fc.integer({ min: 2, max: 5 }),
    values: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 50, maxLength: 50 }),
  })
  .chain(({ rows, cols, values }) => {
    const n = rows * cols;
    const transposed = ndarray(Float64Array.from(values.slice(0, n)), [cols, rows]).transpose(1, 0);
    const params = {
      w: ndarray(Float32Array.from(values.slice(n, 2 * n)), [rows, cols]) as PyTree,
      t: transposed as unknown as PyTree,
      b: Float64Array.from(values.slice(2 * n, 2 * n + 3)),
    };
    return fc.array(arbitraryLike(params), { minLength: 1, maxLength: 4 }).map((grads): Problem => ({ params, grads }));
  });

describe("the laws, over params that are matrices", () => {
  it.each([
    ["adafactor (factored, momentum)", () => adafactor(0.1, { minDimSizeToFactor: 2, momentum: 0.5 })],
    ["sm3", () => sm3(0.1)],
    ["chain(centralize, sgd)", () => chain(centralize(), sgd(0.1))],
    ["muon", () => muon(0.02, { weightDecay: 0.01 })],
  ] as const)("%s: pure, deterministic, keeps structure and dtypes, chain's neighbour, finite to finite", (_, make) => {
    checkTransformationLaws(make(), { numRuns: 10, problems: matrixProblems });
  });
});
