/**
 * The second wave's transformations (issue 11): three steps each against trajectories worked
 * out in plain Python from optax's formulas (test/fixtures/second-wave.py, its numbers in
 * second-wave.json), on both backends, and the stateless ones' single steps by hand.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  keepParamsNonnegative,
  scaleByAdan,
  scaleByAdemamix,
  scaleByAdopt,
  scaleByBelief,
  scaleByNovograd,
  scaleByOptimisticGradient,
  scaleByParamBlockNorm,
  scaleByParamBlockRms,
  scaleByRprop,
  scaleBySign,
  scaleByYogi,
  type GradientTransformation,
} from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { backends, dtypes, expectNear, firstStep, numbers } from "./first-step.js";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/second-wave.json", import.meta.url), "utf8")) as {
  readonly grads: number[][];
  readonly params: number[];
  readonly updates: Record<string, number[][]>;
};

const built: Record<string, () => GradientTransformation> = {
  scaleByBelief: () => scaleByBelief(),
  scaleByYogi: () => scaleByYogi(),
  scaleByAdan: () => scaleByAdan(),
  "scaleByNovograd weightDecay 0.1": () => scaleByNovograd({ weightDecay: 0.1 }),
  "scaleByRprop 0.1": () => scaleByRprop(0.1),
  scaleByOptimisticGradient: () => scaleByOptimisticGradient(),
  "scaleByOptimisticGradient alpha 0.5 beta 2": () => scaleByOptimisticGradient({ alpha: 0.5, beta: 2 }),
  scaleByAdopt: () => scaleByAdopt(),
  "scaleByAdopt nesterov": () => scaleByAdopt({ nesterov: true }),
  scaleByAdemamix: () => scaleByAdemamix(),
};

describe.each(backends)("three steps follow optax's formulas, worked out in Python (%s)", (backend) => {
  it.each(Object.keys(fixture.updates))("%s", (name) => {
    const tx = built[name]!();
    const params = Float64Array.from(fixture.params);
    const got = withBackend(backend, () => {
      let state = tx.init(params);
      return fixture.grads.map((g) => {
        const [u, next] = tx.update(Float64Array.from(g), state, params);
        state = next;
        return numbers(u);
      });
    });
    // The fixture's float64 arithmetic orders some operations differently: a few ulps apart.
    got.forEach((u, t) => expectNear(u, fixture.updates[name]![t]!, "float64", 64));
  });
});

describe.each(backends)("the stateless ones, by hand (%s)", (backend) => {
  describe.each(dtypes)("%s", (dtype) => {
    it("scaleBySign: -1, 0 (keeping -0), 1, and NaN for NaN", () => {
      const { u } = firstStep(backend, scaleBySign(), dtype, [-3, 0, -0, 0.25, NaN]);
      expect(u.slice(0, 4)).toEqual([-1, 0, -0, 1]);
      expect(Object.is(u[2], -0)).toBe(true);
      expect(u[4]).toBeNaN();
    });

    it("scaleByParamBlockNorm: u ||p||, and minScale where the norm is no larger", () => {
      // ||[3, 4]|| = 5: u * 5.
      expectNear(firstStep(backend, scaleByParamBlockNorm(), dtype, [1, -0.5], [3, 4]).u, [5, -2.5], dtype, 2);
      // ||[1e-4, 0]|| = 1e-4 <= 1e-3, so the factor is 1e-3.
      expectNear(firstStep(backend, scaleByParamBlockNorm(), dtype, [2, 1], [1e-4, 0]).u, [2e-3, 1e-3], dtype, 2);
    });

    it("scaleByParamBlockRms: u sqrt(mean(p^2)), and minScale where that is no larger", () => {
      // p = [1, -1, 1, -1, 2, 2, 2, 2]: mean(p^2) = (4 + 16) / 8 = 2.5.
      const p = [1, -1, 1, -1, 2, 2, 2, 2];
      const g = [1, 2, 3, 4, 5, 6, 7, 8];
      expectNear(
        firstStep(backend, scaleByParamBlockRms(), dtype, g, p).u,
        g.map((x) => x * Math.sqrt(2.5)),
        dtype,
        4,
      );
      expectNear(firstStep(backend, scaleByParamBlockRms({ minScale: 0.5 }), dtype, [3], [0.25]).u, [1.5], dtype, 2);
    });

    it("keepParamsNonnegative: -p where p + u < 0, u elsewhere (a param already negative only if it would fall)", () => {
      // p + u: 1 - 3 < 0 gives -1; 2 - 1 >= 0 keeps -1; 0.5 + 0 keeps 0; -1 + 0.5 < 0 gives 1.
      const { u } = firstStep(backend, keepParamsNonnegative(), dtype, [-3, -1, 0, 0.5], [1, 2, 0.5, -1]);
      expect(u).toEqual([-1, -1, 0, 1]);
    });
  });
});

describe("what optax's state layout becomes here", () => {
  it("scaleByNovograd keeps each leaf's second moment in every element of its nu", () => {
    const tx = scaleByNovograd();
    const p = { a: Float64Array.of(0, 0), b: Float64Array.of(0) };
    const [, state] = tx.update({ a: Float64Array.of(3, 4), b: Float64Array.of(-2) }, tx.init(p), p);
    // ||a||^2 = 25 and ||b||^2 = 4 on the first step, each repeated over its leaf.
    expect(numbers(state.nu)).toEqual([25, 25, 4]);
  });

  it("scaleByAdemamix reads b3 and alpha schedules at the count before the step", () => {
    const seen: number[] = [];
    const tx = scaleByAdemamix({ alpha: (count) => (seen.push(count), 0), b3: () => 0.5 });
    let state = tx.init(Float64Array.of(0));
    for (let t = 0; t < 3; t++) [, state] = tx.update(Float64Array.of(1), state);
    expect(seen.slice(-3)).toEqual([0, 1, 2]);
    // b3 = 0.5 on a constant gradient of 1: m2 = 0.5, 0.75, 0.875.
    expect(numbers(state.m2)).toEqual([0.875]);
  });
});
