/**
 * reduceOnPlateau. The scripted cases are optax's (optax/contrib/_reduce_on_plateau_test.py, in
 * google-deepmind/optax): the same transformation (factor 0.1, patience 5, rtol 1e-4, cooldown 5,
 * minScale 0.01), the same states and values, the same expected numbers, in float32 and float64.
 */
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  chain,
  compile,
  lookahead,
  reduceOnPlateau,
  sgd,
  type ReduceOnPlateauState,
} from "../../src/index.js";
import { caught, expectBitEqual } from "../helpers.js";

const optaxCase = () =>
  reduceOnPlateau({
    factor: 0.1,
    patience: 5,
    rtol: 1e-4,
    atol: 0,
    cooldown: 5,
    accumulationSize: 1,
    minScale: 0.01,
  });

const numbers = ({ scale, bestValue, plateauCount, cooldownCount, count, avgValue }: ReduceOnPlateauState) => ({
  scale,
  bestValue,
  plateauCount,
  cooldownCount,
  count,
  avgValue,
});

describe.each([
  ["float32", Float32Array],
  ["float64", Float64Array],
] as const)("reduceOnPlateau: optax's scripted cases, %s", (_, Leaf) => {
  const tx = optaxCase();
  const updates = { params: Leaf.of(1) }; // dummy updates, as optax's
  const run = (state: ReduceOnPlateauState, values: readonly number[]) => {
    let u: unknown;
    for (const value of values) [u, state] = tx.update(updates, state, undefined, { value });
    return [u as { params: Float32Array | Float64Array }, state] as const;
  };
  /** A state of optax's test, with the shapes of these updates. */
  const at = (numbers: Omit<ReduceOnPlateauState, "shapes">): ReduceOnPlateauState => ({
    ...tx.init(updates),
    ...numbers,
  });

  it("reduces the scale once patience runs out, then counts the cooldown down", () => {
    // 1 improves on Infinity; five more 1s are five steps without improvement: 5 = patience.
    const [u, state] = run(tx.init(updates), [1, 1, 1, 1, 1, 1]);
    expect(numbers(state)).toEqual({
      scale: 0.1,
      bestValue: 1,
      plateauCount: 0,
      cooldownCount: 5,
      count: 0,
      avgValue: 0,
    });
    expect(u.params).toBeInstanceOf(Leaf);
    expect(u.params[0]).toBe(Leaf.of(0.1)[0]); // 0.1, rounded once to the leaf's dtype
    const [, after] = run(state, [1]);
    expect([after.scale, after.bestValue, after.plateauCount, after.cooldownCount]).toEqual([0.1, 1, 0, 4]);
  });

  it("resets the plateau count on a new best value, and keeps the scale", () => {
    const start = at({ bestValue: 1, plateauCount: 3, scale: 0.1, cooldownCount: 0, count: 0, avgValue: 0 });
    const [, state] = run(start, [0.1]);
    expect([state.plateauCount, state.scale, state.bestValue]).toEqual([0, 0.1, 0.1]);
  });

  it("does not reduce the scale or count a worse value during a cooldown", () => {
    const start = at({ bestValue: 1, plateauCount: 0, scale: 0.1, cooldownCount: 3, count: 0, avgValue: 0 });
    const [, state] = run(start, [2]);
    expect([state.scale, state.bestValue, state.plateauCount, state.cooldownCount]).toEqual([0.1, 1, 0, 2]);
  });

  it("does not reduce the scale below minScale", () => {
    // 0.1 improves on 1; five more are a plateau, but 0.01 * 0.1 is below minScale = 0.01.
    const start = at({ bestValue: 1, plateauCount: 0, scale: 0.01, cooldownCount: 0, count: 0, avgValue: 0 });
    const [u, state] = run(start, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
    expect([state.scale, state.bestValue, state.plateauCount, state.cooldownCount]).toEqual([0.01, 0.1, 0, 5]);
    expect(u.params[0]).toBe(Leaf.of(0.01)[0]);
  });
});

describe("reduceOnPlateau: beyond optax's cases", () => {
  const g = Float64Array.of(2, -4);

  it("starts at scale 1 and hands the very updates back while the scale is 1", () => {
    const tx = reduceOnPlateau();
    const s0 = tx.init(g);
    expect(numbers(s0)).toEqual({
      scale: 1,
      bestValue: Infinity,
      plateauCount: 0,
      cooldownCount: 0,
      count: 0,
      avgValue: 0,
    });
    const [u] = tx.update(g, s0, undefined, { value: 3 });
    expect(u).toBe(g);
  });

  it("averages accumulationSize values before each check", () => {
    const tx = reduceOnPlateau({ accumulationSize: 3, patience: 1, factor: 0.5 });
    let s = tx.init(g);
    const seen: number[][] = [];
    // (4 + 2 + 6) / 3 = 4 improves on Infinity; (5 + 5 + 2) / 3 = 4 does not: plateau 1 = patience.
    for (const value of [4, 2, 6, 5, 5, 2]) {
      s = tx.update(g, s, undefined, { value })[1];
      seen.push([s.count, s.avgValue, s.bestValue, s.scale]);
    }
    expect(seen).toEqual([
      [1, 4, Infinity, 1],
      [2, 3, Infinity, 1], // (1 * 4 + 2) / 2
      [0, 0, 4, 1], // (2 * 3 + 6) / 3 = 4: checked, then reset
      [1, 5, 4, 1],
      [2, 5, 4, 1],
      [0, 0, 4, 0.5], // (2 * 5 + 2) / 3 = 4, not below (1 - 1e-4) * 4
    ]);
  });

  it("counts an improvement only beyond rtol and atol", () => {
    const tx = reduceOnPlateau({ rtol: 0, atol: 0.5, patience: 1 });
    const s1 = tx.update(g, tx.init(g), undefined, { value: 10 })[1];
    // 9.6 is not below 10 - 0.5: a plateau of 1 = patience, so the scale falls to 0.1.
    const s2 = tx.update(g, s1, undefined, { value: 9.6 })[1];
    expect([s2.bestValue, s2.scale]).toEqual([10, 0.1]);
    const s3 = tx.update(g, s1, undefined, { value: 9.4 })[1];
    expect([s3.bestValue, s3.scale]).toEqual([9.4, 1]);
  });

  it("throws MISSING_EXTRA_ARG naming value without it", () => {
    const tx = reduceOnPlateau();
    const s = tx.init(g);
    for (const thunk of [
      // @ts-expect-error: the type says reduceOnPlateau needs { value }
      () => tx.update(g, s),
      () => tx.update(g, s, undefined, {} as { value: number }),
      // @ts-expect-error: so does a chain holding it
      () => chain(sgd(0.1), tx).update(g, [sgd(0.1).init(g), s], g, { grad: g }),
    ]) {
      const error = caught(thunk);
      expect(error.code).toBe("MISSING_EXTRA_ARG");
      expect(error.message).toMatch(/extra\.value/);
    }
  });

  it.each([
    [{ factor: 1 }, /factor must be a number in \(0, 1\)/],
    [{ factor: 0 }, /factor/],
    [{ patience: 0 }, /patience must be an integer >= 1/],
    [{ patience: 2.5 }, /patience/],
    [{ rtol: 1.5 }, /rtol must be a number in \[0, 1\]/],
    [{ atol: -1 }, /atol/],
    [{ rtol: 0, atol: 0 }, /rtol and atol may not both be 0/],
    [{ cooldown: -1 }, /cooldown/],
    [{ accumulationSize: 0 }, /accumulationSize/],
    [{ minScale: NaN }, /minScale/],
    [{ accumulation_size: 2 }, /did you mean "accumulationSize"/],
  ])("refuses %o when it is built", (options, message) => {
    const error = caught(() => reduceOnPlateau(options as never));
    expect(error.code).toBe("INVALID_HYPERPARAMETER");
    expect(error.message).toMatch(message);
  });

  it("refuses a state whose counts are not counts, as BAD_STATE", () => {
    const tx = reduceOnPlateau();
    const s = tx.init(g);
    for (const bad of [
      { ...s, plateauCount: 1.5 },
      { ...s, scale: "1" },
      { ...s, count: -1 },
    ])
      expect(caught(() => tx.update(g, bad as never, undefined, { value: 1 })).code).toBe("BAD_STATE");
  });

  it("fuses into a chain: compiled and pure give the same bits, steps and state", () => {
    const opt = chain(sgd(0.1, { momentum: 0.9 }), reduceOnPlateau({ patience: 2, factor: 0.5 }));
    const start = { w: Float32Array.of(1, -2, 3), b: Float64Array.of(0.5) };
    const loss = (p: typeof start) => p.w.reduce((s, x) => s + x * x, 0) + p.b[0]! ** 2;
    const gradOf = (p: typeof start) => ({ w: p.w.map((x) => 2 * x), b: p.b.map((x) => 2 * x) });
    // A loss that stalls: the scale falls twice in 8 steps.
    const values = [5, 4, 4, 4, 4, 4, 3.9, 3.9];
    let params = start;
    let state = opt.init(params);
    const run = compile(opt, start);
    for (const value of values) {
      const grads = gradOf(params);
      const [u, next] = opt.update(grads, state, params, { value });
      params = applyUpdates(params, u);
      state = next;
      run.step(grads, { value });
      expect(loss(params)).toBeLessThan(15);
    }
    expect(state[1].scale).toBe(0.25);
    expectBitEqual(run.params, params);
    expect(run.state()).toEqual(state);
    expect(run.reason).toBeUndefined();
    run.dispose();
  });

  it("gets the caller's value inside a lookahead", () => {
    const opt = lookahead(chain(sgd(0.1), reduceOnPlateau({ patience: 1 })), { syncPeriod: 2 });
    let s = opt.init(g);
    for (const value of [3, 3]) s = opt.update(g, s, g, { value })[1];
    expect(s.inner[1].scale).toBeCloseTo(0.1, 15);
  });
});
