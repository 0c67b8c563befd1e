import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  GradTxError,
  lookahead,
  scaleByAdam,
  sgd,
  slowParams,
  tree,
  type GradientTransformation,
  type LookaheadState,
  type PyTree,
} from "../src/index.js";
import {
  checkLookaheadLaws,
  checkLookaheadAlphaZero,
  checkLookaheadSync,
  checkLookaheadSyncPeriodOne,
} from "../src/laws/index.js";
import { MAX_DEPTH } from "../src/core/pytree.js";
import { expectBitEqual, expectClose, snapshot, trajectory, values } from "./helpers.js";

const quadratic = (p: PyTree): PyTree => tree.scale(2, p); // gradient of sum(x^2)

describe("lookahead: the laws of the contract, as properties over random trees, hyperparameters and gradients", () => {
  it('holds all four laws with innerState "keep"', () => {
    checkLookaheadLaws({ numRuns: 60 });
  });

  it('holds all four laws with innerState "interpolate"', () => {
    checkLookaheadLaws({ numRuns: 40, extra: { innerState: "interpolate" } });
  });

  it('holds alpha = 0, syncPeriod = 1 and fast == slow with innerState "reset" (alpha = 1 restarts the inner state, so that law is not claimed)', () => {
    const options = { numRuns: 40, extra: { innerState: "reset" as const } };
    checkLookaheadAlphaZero(options);
    checkLookaheadSyncPeriodOne(options);
    checkLookaheadSync(options);
  });
});

describe("lookahead: the algorithm", () => {
  it("returns the inner updates unchanged between syncs and moves the slow weights only at steps k, 2k, ...", () => {
    const inner = sgd(0.1);
    const tx = lookahead(inner, { syncPeriod: 3, alpha: 0.5 });
    const x0 = Float64Array.of(1, -2);
    const run = trajectory(tx, x0, quadratic, 6);
    // Step 1 from x0: u = -0.1 * 2 * x0 = -0.2 x0, so x1 = 0.8 x0; step 2: x2 = 0.64 x0.
    expectClose(run[0]!.params, Float64Array.of(0.8, -1.6), 1e-15, "x1");
    expectClose(run[1]!.params, Float64Array.of(0.64, -1.28), 1e-15, "x2");
    expectBitEqual(slowParams(run[1]!.state), x0, "slow before the first sync");
    // Step 3: fast would be 0.512 x0; slow' = x0 + 0.5 (0.512 x0 - x0) = 0.756 x0, and the params land on it.
    expectClose(run[2]!.params, Float64Array.of(0.756, -1.512), 1e-15, "x3 (sync)");
    expectBitEqual(run[2]!.params, slowParams(run[2]!.state), "fast == slow after the sync");
    expect((run[5]!.state as LookaheadState).count).toBe(6);
  });

  it("is a drop-in last element of a chain: chain(clipByGlobalNorm(1), lookahead(adam)) syncs through the chain state", () => {
    const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 4 }));
    const run = trajectory(opt, { w: Float64Array.of(1, 2, 3) }, quadratic, 8);
    expectBitEqual(run[3]!.params, slowParams(run[3]!.state), "after step 4");
    expectBitEqual(run[7]!.params, slowParams(run[7]!.state), "after step 8");
  });

  it("copies the params at init: a caller mutating its own arrays does not move the slow weights", () => {
    const params = Float64Array.of(1, 2);
    const state = lookahead(sgd(0.1)).init(params);
    params[0] = 100;
    expectBitEqual(slowParams(state), Float64Array.of(1, 2));
  });

  it("never lets a NaN fast weight reach the slow weights on a non-sync step", () => {
    const tx = lookahead(sgd(1), { syncPeriod: 3 });
    const x0 = Float64Array.of(1, 2);
    let state = tx.init(x0);
    const [u, next] = tx.update(Float64Array.of(NaN, Infinity), state, x0);
    state = next;
    const x1 = applyUpdates(x0, u);
    expect(Number.isNaN(x1[0]!)).toBe(true);
    const [, next2] = tx.update(Float64Array.of(0, 0), state, x1);
    expectBitEqual(slowParams(next2), x0, "slow weights untouched by the NaN");
  });

  it("does carry a NaN into the slow weights at a sync step (applyIfFinite is the guard)", () => {
    const tx = lookahead(sgd(1), { syncPeriod: 1 });
    const x0 = Float64Array.of(1, 2);
    const [, state] = tx.update(Float64Array.of(NaN, 0), tx.init(x0), x0);
    expect(Number.isNaN(values(slowParams(state))[0]!)).toBe(true);
  });

  it('resets the inner state to inner.init(slow\') at each sync with innerState "reset"', () => {
    const tx = lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2, innerState: "reset" });
    const run = trajectory(tx, Float64Array.of(1, 2), quadratic, 2);
    const inner = (run[1]!.state as LookaheadState<[{ trace: PyTree }, unknown]>).inner;
    expectBitEqual(inner[0].trace, Float64Array.of(0, 0), "trace after the sync");
  });

  it('moves every float leaf of the inner state like the weights with innerState "interpolate", and keeps counts', () => {
    const alpha = 0.25;
    const tx = lookahead(adam(0.1), { syncPeriod: 2, alpha, innerState: "interpolate" });
    const keep = lookahead(adam(0.1), { syncPeriod: 2, alpha });
    const x0 = Float64Array.of(1, 2);
    const moved = trajectory(tx, x0, quadratic, 2)[1]!.state;
    const kept = trajectory(keep, x0, quadratic, 2)[1]!.state;
    // The cache starts at inner.init(params): zeros. So after the first sync s' = 0 + alpha * s.
    expectClose(moved.inner[0].mu, tree.scale(alpha, kept.inner[0].mu), 1e-16, "mu");
    expectClose(moved.inner[0].nu, tree.scale(alpha, kept.inner[0].nu), 1e-16, "nu");
    expect(moved.inner[0].count).toBe(2);
    expect(moved.innerAtSync).toBe(moved.inner);
  });

  it("nests: lookahead(lookahead(sgd(0.1), k 5), k 3) syncs the inner level every 5 steps and the outer every 3", () => {
    const innerLa = lookahead(sgd(0.1), { syncPeriod: 5 });
    const outer = lookahead(innerLa, { syncPeriod: 3 });
    const run = trajectory(outer, Float64Array.of(1, 2), quadratic, 15);
    run.forEach((point, t) => {
      const step = t + 1;
      const s = point.state as LookaheadState<LookaheadState>;
      if (step % 3 === 0) expectBitEqual(point.params, slowParams(s), `outer sync at ${step}`);
      expect(s.inner.count).toBe(step);
    });
    expect(values(slowParams(run[14]!.state))[0]).toBeLessThan(1);
  });

  it("keeps float32 params' dtype and ndarray shape in the slow weights", () => {
    const w = ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const tx = lookahead(sgd(0.1), { syncPeriod: 2 });
    const run = trajectory(tx, { w }, quadratic, 2);
    const slow = slowParams<{ w: typeof w }>(run[1]!.state);
    expect(slow.w.data).toBeInstanceOf(Float32Array);
    expect(slow.w.shape).toEqual([2, 2]);
    expectBitEqual(run[1]!.params, slow, "fast == slow (float32)");
  });

  it("requires params (MISSING_PARAMS) and never mutates its inputs", () => {
    const tx = lookahead(sgd(0.1), { syncPeriod: 1 });
    const x = Float64Array.of(1, 2);
    const state = tx.init(x);
    expect(() => tx.update(Float64Array.of(1, 1), state)).toThrowError(
      expect.objectContaining({ code: "MISSING_PARAMS" }),
    );
    const before = snapshot(x);
    const slowBefore = snapshot(slowParams(state));
    tx.update(Float64Array.of(1, 1), state, x);
    expect(snapshot(x)).toEqual(before);
    expect(snapshot(slowParams(state))).toEqual(slowBefore);
  });

  it.each([
    ["syncPeriod 0", { syncPeriod: 0 }],
    ["syncPeriod 2.5", { syncPeriod: 2.5 }],
    ["syncPeriod NaN", { syncPeriod: NaN }],
    ["alpha -0.1", { alpha: -0.1 }],
    ["alpha 1.5", { alpha: 1.5 }],
    ["alpha NaN", { alpha: NaN }],
    ["innerState other", { innerState: "pullback" as never }],
  ])("rejects %s when built (INVALID_HYPERPARAMETER)", (_, options) => {
    expect(() => lookahead(sgd(0.1), options)).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(/lookahead/) }),
    );
  });

  it("slowParams names the problem when a state holds no Lookahead (BAD_STATE)", () => {
    expect(() => slowParams(adam(0.1).init(Float64Array.of(1)))).toThrowError(GradTxError);
  });

  it("continues identically from a structuredClone of its state (the slow weights and counter travel with it)", () => {
    const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 3, innerState: "interpolate" }));
    const x0 = { w: Float64Array.of(1, 2, 3), b: Float32Array.of(-1) };
    const full = trajectory(opt, x0, quadratic, 10);
    const resumeAt = 4; // in the middle of a sync period
    const cloned = structuredClone(full[resumeAt - 1]!.state);
    const rest = trajectory(opt, full[resumeAt - 1]!.params, quadratic, 10 - resumeAt, cloned as typeof cloned);
    rest.forEach((point, i) => expectBitEqual(point.params, full[resumeAt + i]!.params, `step ${resumeAt + i + 1}`));
    expectBitEqual(slowParams(rest.at(-1)!.state), slowParams(full[9]!.state), "slow weights");
  });
});

describe("lookahead: the fast weights are the caller's params (no wrapper type)", () => {
  it("takes and returns plain trees, so any optimizer becomes Lookahead by wrapping it", () => {
    const inner: GradientTransformation = adam(0.05);
    const tx = lookahead(inner);
    const params = { layers: [{ w: new Float64Array(4).fill(1) }] };
    const [u] = tx.update(tree.scale(2, params), tx.init(params), params);
    expect(Object.keys(u as object)).toEqual(["layers"]);
  });
});

describe("lookahead: its options, as it is built", () => {
  it("names optax's positional arguments when the options are not an object", () => {
    expect(() => lookahead(sgd(0.1), 5 as never)).toThrowError(
      expect.objectContaining({
        code: "INVALID_HYPERPARAMETER",
        message: expect.stringContaining("lookahead(inner, { syncPeriod: 5, alpha: 0.5 })"),
      }),
    );
  });

  it('refuses a curvature without alpha: "adaptive", as it refuses alphaLow', () => {
    expect(() => lookahead(sgd(0.1), { curvature: Float64Array.of(1) })).toThrowError(
      expect.objectContaining({
        code: "INVALID_HYPERPARAMETER",
        message: expect.stringMatching(/only with alpha: "adaptive"/),
      }),
    );
  });
});

describe('lookahead: innerState "interpolate" refuses a state it cannot interpolate (BAD_STATE)', () => {
  const x0 = Float64Array.of(1, 2);
  const g = Float64Array.of(1, 1);
  // Built in each test, not here: a mutant that breaks lookahead() must fail tests, not the file's collection.
  const make = () => lookahead(adam(0.1), { syncPeriod: 1, innerState: "interpolate" });
  const badState = (message: RegExp) =>
    expect.objectContaining({ code: "BAD_STATE", message: expect.stringMatching(message) });

  it('a state built with innerState "keep" has no innerAtSync', () => {
    const tx = make();
    const kept = lookahead(adam(0.1), { syncPeriod: 1 }).init(x0);
    expect(() => tx.update(g, kept as never, x0)).toThrowError(badState(/needs innerAtSync/));
  });

  it("an innerAtSync whose moments are longer than the params' (a float array of another length)", () => {
    const tx = make();
    const state = { ...tx.init(x0), innerAtSync: tx.init(Float64Array.of(1, 2, 3)).inner };
    expect(() => tx.update(g, state, x0)).toThrowError(badState(/changed layout/));
  });

  it("an innerAtSync with a number where a moment array is, or null where a record is", () => {
    const tx = make();
    const initial = tx.init(x0);
    const [adamState, scaleState] = initial.inner as unknown as [Record<string, unknown>, unknown];
    const numberMoment = { ...initial, innerAtSync: [{ ...adamState, mu: 0 }, scaleState] };
    expect(() => tx.update(g, numberMoment as never, x0)).toThrowError(badState(/changed layout/));
    const nullRecord = { ...initial, innerAtSync: [null, scaleState] };
    expect(() => tx.update(g, nullRecord as never, x0)).toThrowError(badState(/changed layout/));
  });

  it("an innerAtSync that is not an array of the chain's length", () => {
    const tx = make();
    const initial = tx.init(x0);
    const [adamState] = initial.inner as unknown as [unknown, unknown];
    expect(() => tx.update(g, { ...initial, innerAtSync: [adamState] } as never, x0)).toThrowError(
      badState(/changed layout/),
    );
    expect(() => tx.update(g, { ...initial, innerAtSync: adamState } as never, x0)).toThrowError(
      badState(/changed layout/),
    );
  });

  it("keeps innerAtSync through the steps between syncs, and takes the moved inner state at a sync", () => {
    const tx = lookahead(adam(0.1), { syncPeriod: 2, innerState: "interpolate" });
    const initial = tx.init(x0);
    const [, afterOne] = tx.update(g, initial, x0);
    expect(afterOne.innerAtSync).toBe(initial.innerAtSync);
    const [, afterTwo] = tx.update(g, afterOne, x0);
    expect(afterTwo.innerAtSync).toBe(afterTwo.inner);
    expect(afterTwo.innerAtSync).not.toBe(afterOne.inner);
  });

  it('holds count, slow and inner with innerState "keep" before and after a sync; "interpolate" adds innerAtSync', () => {
    const keys = (tx: GradientTransformation<LookaheadState>) => {
      const s0 = tx.init(x0);
      const [, s1] = tx.update(g, s0, x0);
      const [, s2] = tx.update(g, s1, x0);
      return [s0, s1, s2].map((s) => Object.keys(s).sort());
    };
    const kept = ["count", "inner", "slow"];
    expect(keys(lookahead(adam(0.1), { syncPeriod: 2 }))).toEqual([kept, kept, kept]);
    const interpolated = ["count", "inner", "innerAtSync", "slow"];
    expect(keys(lookahead(adam(0.1), { syncPeriod: 2, innerState: "interpolate" }))).toEqual([
      interpolated,
      interpolated,
      interpolated,
    ]);
  });

  it("moves the state it is given at a sync by alpha from innerAtSync: mu' = mu_sync + 0.5 (mu - mu_sync)", () => {
    const tx = make();
    // One adam step from mu = 0 gives mu = (1 - b1) g = 0.1 g; from innerAtSync's mu = 1, mu' = 1 + 0.5 (0.1 - 1) = 0.55.
    const initial = tx.init(x0);
    const [adamState, scaleState] = initial.inner as unknown as [Record<string, unknown>, unknown];
    const atSync = [{ ...adamState, mu: Float64Array.of(1, 1) }, scaleState];
    const [, next] = tx.update(g, { ...initial, innerAtSync: atSync } as never, x0);
    const mu = (next.inner as unknown as [{ mu: Float64Array }])[0].mu;
    expectClose(mu, Float64Array.of(1 + 0.5 * (0.1 - 1), 1 + 0.5 * (0.1 - 1)), 1e-15, "mu");
  });
});

describe("slowParams: where it looks for the Lookahead state", () => {
  const p = Float64Array.of(1, 2);
  const noLookahead = expect.objectContaining({
    code: "BAD_STATE",
    message: expect.stringMatching(/holds no Lookahead state/),
  });
  const tooDeep = expect.objectContaining({
    code: "BAD_STATE",
    message: expect.stringMatching(/nested deeper than 1000/),
  });
  /** `inside` wrapped in `depth` one-element arrays. */
  const wrapped = (inside: unknown, depth: number): unknown => {
    let s = inside;
    for (let d = 0; d < depth; d++) s = [s];
    return s;
  };

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["a number", 5],
    ["a string", "state"],
    ["an empty array", []],
  ])("%s holds no Lookahead state", (_, state) => {
    expect(() => slowParams(state)).toThrowError(noLookahead);
  });

  it("a record with only some of slow, inner and count is not a Lookahead state: the Lookahead after it is found", () => {
    const la = lookahead(sgd(0.1));
    // A user's own transformation may keep such a record before Lookahead in a chain.
    const own = (state: unknown) => ({ init: () => state, update: (u: PyTree) => [u, state] as const });
    const decoys = [
      { slow: Float64Array.of(9) },
      { slow: Float64Array.of(9), inner: null },
      { slow: Float64Array.of(9), count: 0 },
      { inner: null, count: 0 },
    ];
    for (const decoy of decoys) {
      const opt = chain(own(decoy), la);
      expectBitEqual(slowParams(opt.init(p)), p, JSON.stringify(Object.keys(decoy)));
    }
    // Adam's state record ({ count, mu, nu }) comes first in this chain's state.
    expectBitEqual(slowParams(chain(scaleByAdam(), la).init(p)), p, "after scaleByAdam");
  });

  it("a cyclic state with no Lookahead in it holds none (each object is visited once); one with a Lookahead has it found", () => {
    const la = lookahead(sgd(0.1));
    const cyclic: unknown[] = [{}];
    cyclic.push(cyclic);
    expect(() => slowParams(cyclic)).toThrowError(noLookahead);
    const withLookahead: unknown[] = [];
    withLookahead.push(withLookahead, { inner: [withLookahead, la.init(p)] });
    expectBitEqual(slowParams(withLookahead), p);
  });

  it(`looks ${MAX_DEPTH} levels down and no further: a Lookahead state there is found, one level deeper is BAD_STATE`, () => {
    const la = lookahead(sgd(0.1));
    expectBitEqual(slowParams(wrapped(la.init(p), MAX_DEPTH)), p);
    expect(() => slowParams(wrapped(la.init(p), MAX_DEPTH + 1))).toThrowError(tooDeep);
  });

  it(`a state whose deepest record is ${MAX_DEPTH} levels down, holding only numbers and nulls, holds no Lookahead (not "too deep")`, () => {
    // The record's children, 0 and null, would be one level too deep, but they are not containers.
    expect(() => slowParams(wrapped({ count: 0, inner: null }, MAX_DEPTH))).toThrowError(noLookahead);
  });
});
