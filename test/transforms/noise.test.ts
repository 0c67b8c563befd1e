/**
 * addNoise and noisySgd: the generator against Random123's known answers, the noise against an
 * independent Python implementation of the documented recipe (test/fixtures/noise.py, its
 * numbers in noise.json), the noise's statistics against optax's schedule with tolerances from
 * the sample size, and its determinism: the same seed, a resumed checkpoint and any split of the
 * tree give the same bits; another seed, step or leaf gives other ones.
 */
import { readFileSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addNoise,
  applyUpdates,
  compile,
  deserializeState,
  noisySgd,
  serializeState,
  type AddNoiseState,
  type PyTree,
} from "../../src/index.js";
import { threefry } from "../../src/transforms/noise.js";
import { caught, expectBitEqual, values } from "../helpers.js";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/noise.json", import.meta.url), "utf8")) as {
  readonly threefryKat: [[number, number], [number, number], [number, number]][];
  readonly cases: {
    readonly dtype: "f32" | "f64";
    readonly seed: number;
    readonly eta: number;
    readonly gamma: number;
    readonly leaves: number[][];
    readonly steps: number[][][];
  }[];
};

/** The noise `addNoise({ eta, gamma, seed })` adds to zeros of length `n` at step `count`. */
function noiseAt(
  n: number,
  count: number,
  eta = 1,
  gamma = 0,
  seed = 0,
  dtype: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array,
): number[] {
  const tx = addNoise({ eta, gamma, seed });
  const zeros = new dtype(n);
  const [u] = tx.update(zeros, { ...tx.init(zeros), count });
  return values(u);
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const moment = (xs: readonly number[], k: number) => mean(xs.map((x) => x ** k));
const correlation = (a: readonly number[], b: readonly number[]) =>
  mean(a.map((x, i) => x * b[i]!)) / Math.sqrt(moment(a, 2) * moment(b, 2));

describe("the generator: Threefry-2x32, 20 rounds", () => {
  it("gives Random123's known answers (its kat_vectors, also JAX's threefry test values)", () => {
    const out = new Uint32Array(2);
    expect(fixture.threefryKat).toHaveLength(3);
    for (const [counter, key, want] of fixture.threefryKat) {
      threefry(key[0], key[1], counter[0], counter[1], out);
      expect(Array.from(out)).toEqual(want);
    }
  });
});

describe("addNoise against the recipe worked out in Python", () => {
  it.each(fixture.cases.map((c) => [`${c.dtype}, seed ${c.seed}, eta ${c.eta}, gamma ${c.gamma}`, c] as const))(
    "%s: three steps on a tree of two leaves",
    (_, c) => {
      const ctor = c.dtype === "f32" ? Float32Array : Float64Array;
      const tx = addNoise({ eta: c.eta, gamma: c.gamma, seed: c.seed });
      const leaves = c.leaves.map((l) => ctor.from(l));
      let state = tx.init(leaves);
      c.steps.forEach((want, t) => {
        const [u, next] = tx.update(leaves, state);
        state = next;
        (u as Float64Array[]).forEach((leaf, i) => {
          expect(leaf).toBeInstanceOf(ctor);
          // float32: the same float32 roundings, so the same bits; float64: the logarithm and the
          // cosine of two libraries may differ in the last place.
          const tolerance = c.dtype === "f32" ? 0 : 4e-16;
          Array.from(leaf).forEach((v, k) =>
            expect(Math.abs(v - want[i]![k]!), `step ${t + 1}, leaf ${i}, element ${k}`).toBeLessThanOrEqual(
              tolerance * Math.max(1, Math.abs(v)),
            ),
          );
        });
      });
      expect(state.count).toBe(3);
      expect(state.rngKey).toBe(c.seed);
    },
  );
});

describe("the noise's statistics follow optax's schedule eta / (count + 1)^gamma", () => {
  const n = 100_000;
  // Each bound is five standard errors of the statistic for a sample of n independent normals.
  const se = 5 / Math.sqrt(n);
  it.each([
    [0, Float64Array],
    [9, Float64Array],
    [99, Float32Array],
  ] as const)("at count %i (%o): mean, variance, kurtosis and the mass within one sigma", (count, dtype) => {
    const eta = 0.3;
    const gamma = 0.55;
    const variance = eta / (count + 1) ** gamma;
    const sigma = Math.sqrt(variance);
    const z = noiseAt(n, count, eta, gamma, 42, dtype);
    expect(Math.abs(mean(z))).toBeLessThan(se * sigma);
    // The sample variance's standard error is sqrt(2 / n) sigma^2; z^4's is sqrt(96 / n) sigma^4.
    expect(Math.abs(moment(z, 2) - variance)).toBeLessThan(se * Math.SQRT2 * variance);
    expect(Math.abs(moment(z, 4) - 3 * variance ** 2)).toBeLessThan(se * Math.sqrt(96) * variance ** 2);
    const within = z.filter((x) => Math.abs(x) < sigma).length / n;
    const p = 0.6826894921370859; // P(|Z| < 1)
    expect(Math.abs(within - p)).toBeLessThan(se * Math.sqrt(p * (1 - p)));
  });

  it("is uncorrelated between the two halves of a block, between steps, leaves and seeds", () => {
    const z = noiseAt(n, 0);
    const even = z.filter((_, i) => i % 2 === 0);
    const odd = z.filter((_, i) => i % 2 === 1);
    expect(Math.abs(correlation(even, odd))).toBeLessThan(5 / Math.sqrt(n / 2));
    expect(Math.abs(correlation(z, noiseAt(n, 1)))).toBeLessThan(se);
    expect(Math.abs(correlation(z, noiseAt(n, 0, 1, 0, 1)))).toBeLessThan(se);
    const tx = addNoise({ eta: 1, gamma: 0 });
    const zeros = [new Float64Array(n), new Float64Array(n)];
    const [u] = tx.update(zeros, tx.init(zeros));
    const [a, b] = (u as Float64Array[]).map((leaf) => Array.from(leaf));
    expect(a).toEqual(z);
    expect(Math.abs(correlation(a!, b!))).toBeLessThan(se);
  });

  it("is sqrt(eta / t^gamma) times the unit noise of the same seed at every step (optax's _adding_test.py)", () => {
    // optax/transforms/_adding_test.py, test_add_noise_has_correct_variance_scaling: eta 0.3,
    // gamma 0.55, fifty steps, against add_noise(1, 0) of the same key.
    const params = [Float64Array.of(1, 2), Float64Array.of(3, 4)];
    const zeros = params.map((p) => new Float64Array(p.length));
    const noise = addNoise({ eta: 0.3, gamma: 0.55, seed: 314 });
    const unit = addNoise({ eta: 1, gamma: 0, seed: 314 });
    let s = noise.init(params);
    let su = unit.init(params);
    for (let i = 1; i <= 50; i++) {
      const [u, next] = noise.update(zeros, s);
      const [uu, nextU] = unit.update(zeros, su);
      s = next;
      su = nextU;
      const scale = Math.sqrt(0.3 / i ** 0.55);
      values(u).forEach((v, k) => {
        const want = scale * values(uu)[k]!;
        expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-15 * Math.abs(want));
      });
    }
  });
});

describe("determinism", () => {
  it("the same seed gives the same bits; another seed (its high word too) gives other noise", () => {
    const z = noiseAt(64, 3, 1, 0, 5);
    expect(noiseAt(64, 3, 1, 0, 5)).toEqual(z);
    for (const other of [6, 5 + 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const w = noiseAt(64, 3, 1, 0, other);
      expect(w.every((v, i) => v !== z[i])).toBe(true);
    }
    expect(noiseAt(64, 4, 1, 0, 5).every((v, i) => v !== z[i])).toBe(true);
  });

  it("an element's draw does not depend on its leaf's length or the other leaves (any split of the work)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.nat({ max: 1000 }),
        (n, extra, other, count) => {
          const tx = addNoise({ eta: 1, gamma: 0, seed: 9 });
          const short = [new Float64Array(n), new Float64Array(other)];
          const long = [new Float64Array(n + extra), new Float64Array(2 * other)];
          const [a] = tx.update(short, { ...tx.init(short), count });
          const [b] = tx.update(long, { ...tx.init(long), count });
          const [sa, oa] = a as Float64Array[];
          const [sb, ob] = b as Float64Array[];
          expect(Array.from(sb!.subarray(0, n))).toEqual(Array.from(sa!));
          expect(Array.from(ob!.subarray(0, other))).toEqual(Array.from(oa!));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("noisySgd resumed from a checkpoint mid-run continues with the very same bits, pure and compiled", () => {
    const opt = noisySgd(0.1, { eta: 0.5, seed: 11 });
    const x0 = { w: Float32Array.of(1, -2, 3), b: [Float64Array.of(0.5, 4)] };
    const grad = (p: PyTree) => ({
      w: Float32Array.from((p as typeof x0).w, (v) => 2 * v),
      b: [Float64Array.from((p as typeof x0).b[0]!, (v) => 2 * v)],
    });
    const run = (params: PyTree, state: ReturnType<typeof opt.init>, steps: number) => {
      for (let t = 0; t < steps; t++) {
        const [u, next] = opt.update(grad(params), state, params);
        params = applyUpdates(params, u);
        state = next;
      }
      return { params, state };
    };
    const whole = run(x0, opt.init(x0), 6);
    const half = run(x0, opt.init(x0), 3);
    const restored = deserializeState(serializeState(half.state), opt.init(x0));
    expect(restored[0]).toEqual({ ...half.state[0] });
    const resumed = run(half.params, restored, 3);
    expectBitEqual(resumed.params, whole.params, "resumed");
    expect(resumed.state[0].count).toBe(6);
    const compiled = compile(opt, x0);
    for (let t = 0; t < 6; t++) compiled.step(grad(compiled.params));
    expectBitEqual(compiled.params, whole.params, "compiled");
    expect(compiled.reason).toMatch(/plain TypeScript.*AddNoise/);
    compiled.dispose();
  });
});

describe("noisySgd", () => {
  it("is -lr (g + sqrt(eta) z) on its first step, with optax's defaults eta 0.01 and gamma 0.55", () => {
    const x = Float64Array.of(1, 2, 3);
    const g = x.map((v) => 2 * v);
    const z = noiseAt(3, 0);
    const [u, state] = noisySgd(0.1).update(g, noisySgd(0.1).init(x), x);
    values(u).forEach((v, i) => expect(v).toBeCloseTo(-0.1 * (g[i]! + 0.1 * z[i]!), 15));
    expect(state[0].rngKey).toBe(0);
    // gamma matters from the second step on: the variance is 0.01 / 2^0.55 there.
    const [u2] = noisySgd(0.1).update(g, [{ ...state[0], count: 1 }, state[1]], x);
    const z2 = noiseAt(3, 1);
    values(u2).forEach((v, i) => expect(v).toBeCloseTo(-0.1 * (g[i]! + Math.sqrt(0.01 / 2 ** 0.55) * z2[i]!), 15));
  });
});

describe("bad input", () => {
  it("refuses bad options when built, naming them", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => addNoise({ gamma: 0.55 }), /addNoise: eta must be a number >= 0, got undefined/],
      [() => addNoise({ eta: 0.01 }), /addNoise: gamma must be a number, got undefined/],
      [() => addNoise({ eta: -1, gamma: 0 }), /eta must be a number >= 0, got -1/],
      [() => addNoise({ eta: 1, gamma: 0, seed: -1 }), /seed must be an integer in \[0, 9007199254740991\], got -1/],
      [() => addNoise({ eta: 1, gamma: 0, seed: 1.5 }), /seed must be an integer/],
      [() => addNoise({ eta: 1, gamma: 0, seed: 2 ** 53 }), /seed must be an integer/],
      [() => addNoise({ eta: 1, gamma: 0, key: 0 } as never), /key/],
      [() => noisySgd(0.1, { eta: NaN }), /noisySgd: eta must be a number >= 0, got NaN/],
      [() => noisySgd(-1), /noisySgd: learningRate must be a number >= 0, got -1/],
      [() => noisySgd(0.1, 0.01 as never), /noisySgd/],
    ];
    for (const [build, message] of cases)
      expect(build).toThrowError(
        expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
      );
  });

  it("refuses a state that is not its own, or grads of another shape, and mutates nothing", () => {
    const tx = addNoise({ eta: 1, gamma: 0 });
    const x = Float64Array.of(1, 2);
    const state = tx.init(x);
    const bad = (s: unknown) => caught(() => tx.update(x, s as AddNoiseState));
    expect(bad({ ...state, rngKey: -1 }).message).toMatch(
      /addNoise: rngKey must be an integer in \[0, 2\^53\), got -1/,
    );
    expect(bad({ ...state, rngKey: "0" }).code).toBe("BAD_STATE");
    expect(bad({ ...state, count: 0.5 }).message).toMatch(/count must be a non-negative integer/);
    expect(bad({ count: 0, shapes: state.shapes }).message).toMatch(/state has no "rngKey"/);
    expect(caught(() => tx.update(Float64Array.of(1, 2, 3), state)).code).toBe("SHAPE_MISMATCH");
    expect(Array.from(x)).toEqual([1, 2]);
    expect(state).toEqual({ count: 0, rngKey: 0, shapes: tx.init(x).shapes });
  });
});
