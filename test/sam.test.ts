/**
 * sam: trajectories against optax.contrib's _sam.py worked out with numpy (test/fixtures/sam.py,
 * its numbers in sam.json) in both modes, optax's _sam_test.py convergence (shortened), the
 * documented difference at syncPeriod 1, checkpoints, compile, and its errors.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  chain,
  compile,
  deserializeState,
  normalizeByUpdateNorm,
  sam,
  serializeState,
  sgd,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { caught, expectBitEqual, expectClose, trajectory, values } from "./helpers.js";

const fixture = JSON.parse(readFileSync(new URL("fixtures/sam.json", import.meta.url), "utf8")) as {
  readonly x0: number[];
  readonly target: number[];
  readonly cases: {
    readonly mode: "transparent" | "opaque";
    readonly outer: string;
    readonly adversary: string;
    readonly syncPeriod: number;
    readonly resetState: boolean;
    readonly params: number[][];
  }[];
};

const outers: Record<string, () => GradientTransformation> = {
  "sgd 0.1": () => sgd(0.1),
  "sgd 0.05 momentum 0.9": () => sgd(0.05, { momentum: 0.9 }),
};
const adversaries: Record<string, () => GradientTransformation> = {
  "normalized sgd 0.05": () => chain(normalizeByUpdateNorm({ eps: 0 }), sgd(0.05)),
  "adam 0.01": () => adam(0.01),
};

/** The gradient of f(x) = sum((x - target)^2). */
const gradAt = (target: readonly number[]) => (x: PyTree) =>
  Float64Array.from(values(x), (v, i) => 2 * (v - target[i]!));
const grad = gradAt(fixture.target);

/** `steps` updates of `opt` from `x0`, with gradFn for opaque mode: the params after each. */
function run(opt: GradientTransformation, x0: PyTree, steps: number, g = grad): PyTree[] {
  let x = x0;
  let state = opt.init(x);
  const out: PyTree[] = [];
  for (let t = 0; t < steps; t++) {
    const [u, next]: readonly [PyTree, unknown] = opt.update(g(x), state, x, { gradFn: g });
    x = applyUpdates(x, u);
    state = next;
    out.push(x);
  }
  return out;
}

describe("sam against optax's code worked out in numpy", () => {
  it.each(
    fixture.cases.map(
      (c) =>
        [
          `${c.mode}, ${c.outer} after ${c.adversary}, syncPeriod ${c.syncPeriod}, resetState ${c.resetState}`,
          c,
        ] as const,
    ),
  )("%s", (_, c) => {
    const opt = sam(outers[c.outer]!(), adversaries[c.adversary]!(), {
      syncPeriod: c.syncPeriod,
      resetState: c.resetState,
      opaqueMode: c.mode === "opaque",
    });
    run(opt, Float64Array.from(fixture.x0), c.params.length).forEach((x, t) =>
      expectClose(x, Float64Array.from(c.params[t]!), 1e-13, `step ${t + 1}`),
    );
  });
});

describe("sam", () => {
  it("converges on optax's parabola (_sam_test.py, test_optimization, with fewer and larger steps)", () => {
    // optax: sgd(1e-3) outer, normalize then sgd(1e-5) or adam(1e-4) adversarial, 25,000 rounds,
    // within 3e-2 of [1, -1, 1] from [-1, 10, 1]; here sgd(0.05) and 300 rounds.
    const target = [1, -1, 1];
    for (const adversary of [sgd(1e-5), adam(1e-4)])
      for (const opaqueMode of [false, true]) {
        const opt = sam(sgd(0.05), chain(normalizeByUpdateNorm({ eps: 0 }), adversary), { opaqueMode });
        const steps = opaqueMode ? 300 : 600;
        const last = run(opt, Float64Array.of(-1, 10, 1), steps, gradAt(target))[steps - 1]!;
        expectClose(last, Float64Array.from(target), 3e-2, `opaqueMode ${opaqueMode}`);
      }
  });

  it("with syncPeriod 1 takes the outer optimizer's steps (optax's would move from a stale cache)", () => {
    const opt = sam(sgd(0.1, { momentum: 0.5 }), sgd(1), { syncPeriod: 1 });
    const x0 = { a: Float32Array.of(3, -1), b: Float64Array.of(2) };
    const g = (x: PyTree) => {
      const [a1, a2, b] = values(x);
      return { a: Float32Array.of(2 * a1!, 2 * a2!), b: Float64Array.of(2 * b!) };
    };
    const want = run(sgd(0.1, { momentum: 0.5 }), x0, 5, g as never);
    run(opt, x0, 5, g as never).forEach((x, t) => expectBitEqual(x, want[t]!, `step ${t + 1}`));
  });

  it("keeps the cache as a copy in the params' dtypes, resumes from a checkpoint and compiles with the same bits", () => {
    const opt = sam(sgd(0.1), chain(normalizeByUpdateNorm({ eps: 0 }), sgd(0.05)), { syncPeriod: 3 });
    const x0 = { w: Float32Array.of(1, 2, 3), b: [Float64Array.of(-1)] };
    const g = (x: PyTree) => {
      const [b, w1, w2, w3] = values(x);
      return { w: Float32Array.of(2 * w1!, 2 * w2!, 2 * w3!), b: [Float64Array.of(2 * b!)] };
    };
    const state = opt.init(x0);
    expect(state.cache).toEqual(x0);
    expect((state.cache as typeof x0).w).not.toBe(x0.w);
    expect((state.cache as typeof x0).w).toBeInstanceOf(Float32Array);
    const whole = run(opt, x0, 7, g as never);
    // Resume after 4 steps, mid-round.
    const head = trajectory(opt, x0, g, 4);
    const saved = deserializeState(serializeState(head[3]!.state), opt.init(x0));
    trajectory(opt, head[3]!.params, g, 3, saved).forEach((point, t) =>
      expectBitEqual(point.params, whole[4 + t]!, `resumed, step ${5 + t}`),
    );
    const compiled = compile(opt, x0);
    for (let t = 0; t < 7; t++) {
      compiled.step(g(compiled.params));
      expectBitEqual(compiled.params, whole[t]!, `compiled, step ${t + 1}`);
    }
    expect(compiled.reason).toMatch(/plain TypeScript.*Sam/);
    compiled.dispose();
  });

  it("refuses bad options, a foreign state, missing params or gradFn, and mutates nothing", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => sam(sgd(1), sgd(1), { syncPeriod: 0 }), /sam: syncPeriod must be an integer in \[1, /],
      [() => sam(sgd(1), sgd(1), { resetState: 1 as never }), /resetState must be a boolean/],
      [() => sam(sgd(1), {} as never), /sam: advOptimizer: expected a GradientTransformation/],
      [() => sam(sgd(1), sgd(1), { sync_period: 2 } as never), /syncPeriod/],
    ];
    for (const [build, message] of cases)
      expect(build).toThrowError(
        expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
      );
    const opt = sam(sgd(1), sgd(1));
    const x = Float64Array.of(1, 2);
    const state = opt.init(x);
    expect(caught(() => opt.update(x, state)).code).toBe("MISSING_PARAMS");
    expect(caught(() => opt.update(x, { ...state, stepsSinceSync: 2 }, x)).message).toMatch(
      /stepsSinceSync must be an integer in \[0, 1\], got 2/,
    );
    expect(caught(() => opt.update(x, { ...state, cache: Float64Array.of(1) }, x)).code).toBe("SHAPE_MISMATCH");
    const opaque = sam(sgd(1), sgd(1), { opaqueMode: true });
    const missing = caught(() => opaque.update(x, opaque.init(x), x));
    expect(missing.code).toBe("MISSING_EXTRA_ARG");
    expect(missing.message).toMatch(/extra.gradFn/);
    const wrong = caught(() => opaque.update(x, opaque.init(x), x, { gradFn: () => Float64Array.of(1) }));
    expect(wrong.code).toBe("SHAPE_MISMATCH");
    expect(Array.from(x)).toEqual([1, 2]);
    expect(values(state.cache)).toEqual([1, 2]);
  });
});
