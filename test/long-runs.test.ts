/**
 * Long runs keep their cadence: counters beyond 2^31, and 100,000 steps of Lookahead, sync
 * exactly every k steps with the schedule and the bias correction right.
 */
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  chain,
  lookahead,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  slowParams,
  type LookaheadState,
  type PyTree,
} from "../src/index.js";
import { values } from "./helpers.js";

describe("long runs", () => {
  it("counters beyond 2^31 keep the sync cadence, the schedule and the bias correction right", () => {
    const start = 2 ** 31 + 5; // 2^31 = 2147483648 is 3 mod 5, so start is 3 mod 5 too: a sync after 2 more steps
    const seen: number[] = [];
    const tx = lookahead(
      chain(
        scaleByAdam(),
        scaleByLearningRate((t) => (seen.push(t), 0.1)),
      ),
      { syncPeriod: 5 },
    );
    const params = Float64Array.of(1);
    const fresh = tx.init(params) as LookaheadState<
      [{ count: number; mu: PyTree; nu: PyTree }, { count: number; shapes: PyTree }]
    >;
    let state: typeof fresh = {
      ...fresh,
      count: start,
      inner: [
        { ...fresh.inner[0], count: start },
        { ...fresh.inner[1], count: start },
      ],
    };
    let p = params;
    const synced: boolean[] = [];
    const updates: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [u, next] = tx.update(Float64Array.of(1), state, p);
      p = applyUpdates(p, u);
      state = next as typeof fresh;
      updates.push(values(u)[0]!);
      synced.push(values(p)[0] === values(slowParams(state))[0] && state.count % 5 === 0);
    }
    expect(seen).toEqual([start, start + 1, start + 2, start + 3, start + 4]);
    expect(synced).toEqual([false, true, false, false, false]);
    expect(state.inner[0].count).toBe(start + 5);
    // At t ~ 2^31 both bias corrections are 1 (0.999^t underflows), so from zero moments the
    // first step is -lr * (1 - b1) g / (sqrt((1 - b2) g^2) + eps) = -0.1 * 0.1 / (sqrt(0.001) + 1e-8).
    expect(updates[0]).toBeCloseTo((-0.1 * 0.1) / (Math.sqrt(0.001) + 1e-8), 14);
  });

  it("a hundred thousand steps of lookahead(sgd) on a tiny tree sync exactly every k steps", () => {
    const k = 7;
    const tx = lookahead(sgd(0.01), { syncPeriod: k });
    let params = Float64Array.of(1);
    let state = tx.init(params);
    const g = Float64Array.of(1e-6);
    let syncs = 0;
    let slow = slowParams(state);
    for (let step = 1; step <= 100_000; step++) {
      const [u, next] = tx.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
      const nextSlow = slowParams(state);
      if (step % k === 0) {
        syncs++;
        if (nextSlow === slow || values(nextSlow)[0] !== values(params)[0]) throw new Error(`step ${step}: no sync`);
      } else if (nextSlow !== slow) throw new Error(`step ${step}: the slow weights moved between syncs`);
      slow = nextSlow;
    }
    expect(syncs).toBe(Math.floor(100_000 / k));
    expect((state as LookaheadState).count).toBe(100_000);
  });
});
