import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  GradTxError,
  lookahead,
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
