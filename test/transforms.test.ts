/** First steps of each catalogue transform, worked out by hand from its equations. */
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  clip,
  clipByBlockRms,
  ema,
  scaleByAdadelta,
  scaleByAdam,
  scaleByAdamax,
  scaleByAmsgrad,
  scaleByLion,
  scaleByRAdam,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  scaleByTrustRatio,
  tree,
  zeroNans,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, runProblem } from "../src/laws/index.js";
import * as fc from "fast-check";
import { expectBitEqual, expectClose, values } from "./helpers.js";

/** The updates of `steps` steps feeding the same gradient `g` (params unused, zeros). */
function updatesFor(tx: GradientTransformation, grads: readonly number[][]): number[][] {
  let state = tx.init(new Float64Array(grads[0]!.length));
  return grads.map((g) => {
    const [u, next] = tx.update(Float64Array.from(g), state, new Float64Array(g.length));
    state = next;
    return values(u);
  });
}

const close = (actual: number[], expected: number[], tolerance = 1e-15) =>
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(expected[i]!)),
    ),
  );

describe("scaleByRms", () => {
  it("step 1 with decay 0.9: nu = 0.1 g^2, u = g / sqrt(nu + eps) (eps inside the root)", () => {
    const [u] = updatesFor(scaleByRms(), [[2, -1]]);
    close(u!, [2 / Math.sqrt(0.1 * 4 + 1e-8), -1 / Math.sqrt(0.1 * 1 + 1e-8)]);
  });

  it("epsInSqrt: false puts eps outside: u = g / (sqrt(nu) + eps)", () => {
    const [u] = updatesFor(scaleByRms({ epsInSqrt: false }), [[2]]);
    close(u!, [2 / (Math.sqrt(0.4) + 1e-8)]);
  });

  it("starts nu at initialScale: nu = 0.9 * 1 + 0.1 * 4 = 1.3", () => {
    const [u] = updatesFor(scaleByRms({ initialScale: 1, eps: 0 }), [[2]]);
    close(u!, [2 / Math.sqrt(1.3)]);
  });

  it("with bias correction and eps outside the root equals scaleByAdam with b1 = 0 (optax's documented identity)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 8, dtypes: ["float64"] }), (problem) => {
        const rms = runProblem(scaleByRms({ decay: 0.999, biasCorrection: true, epsInSqrt: false }), problem).updates;
        const adamB1Zero = runProblem(scaleByAdam({ b1: 0, b2: 0.999 }), problem).updates;
        rms.forEach((u, t) =>
          expectClose(u, adamB1Zero[t]!, 1e-12 * (1 + Math.max(...values(u).map(Math.abs))), `step ${t + 1}`),
        );
      }),
      { numRuns: 50 },
    );
  });
});

describe("scaleByStddev", () => {
  it("step 1: mu = 0.1 g, nu = 0.1 g^2, u = g / sqrt(0.1 g^2 - 0.01 g^2 + eps) = g / sqrt(0.09 g^2 + eps)", () => {
    const [u] = updatesFor(scaleByStddev(), [[3]]);
    close(u!, [3 / Math.sqrt(0.1 * 9 - 0.3 * 0.3 + 1e-8)], 1e-14);
  });
});

describe("scaleByRss (Adagrad)", () => {
  it("accumulates from 0.1: s = 0.1 + 4 = 4.1, then 4.1 + 4 = 8.1", () => {
    const [u1, u2] = updatesFor(scaleByRss(), [[2], [2]]);
    close(u1!, [2 / Math.sqrt(4.1 + 1e-7)]);
    close(u2!, [2 / Math.sqrt(8.1 + 1e-7)]);
  });

  it("gives 0 where the accumulator is 0", () => {
    const [u] = updatesFor(scaleByRss({ initialAccumulatorValue: 0 }), [[0]]);
    expect(u).toEqual([0]);
  });
});

describe("scaleByRAdam", () => {
  it("is bias-corrected momentum while rho < 5 (steps 1 to 5 with b2 = 0.999), then rectified Adam", () => {
    const g = [[1], [1], [1], [1], [1], [1]];
    const u = updatesFor(scaleByRAdam(), g);
    // A constant gradient 1: mu_t = 1 - 0.9^t, so the corrected momentum is exactly 1 each step.
    for (let t = 0; t < 5; t++) close(u[t]!, [1], 1e-14);
    // t = 6: rhoInf = 2/0.001 - 1 = 1999, rho = 1999 - 12 * 0.999^6 / (1 - 0.999^6) ≈ 5.99 >= 5.
    const b2t = 0.999 ** 6;
    const rho = 1999 - (2 * 6 * b2t) / (1 - b2t);
    expect(rho).toBeGreaterThan(5);
    const r = Math.sqrt(((rho - 4) * (rho - 2) * 1999) / ((1999 - 4) * (1999 - 2) * rho));
    // v corrected is exactly 1 too, so u = r * 1 / (1 + 1e-8).
    close(u[5]!, [r / (1 + 1e-8)], 1e-12);
  });
});

describe("scaleByLion", () => {
  it("is the sign of (1 - b1) g + b1 mu, with mu moving at b2", () => {
    // Step 1: sign(0.1 * g) = sign(g). mu = 0.01 g = [-0.03, 0.005, 0].
    // Step 2 with g = [1, -1, 0]: sign(0.1 * 1 + 0.9 * -0.03) = sign(0.073) = 1; sign(-0.1 + 0.0045) = -1; sign(0) = 0.
    const [u1, u2] = updatesFor(scaleByLion(), [
      [-3, 0.5, 0],
      [1, -1, 0],
    ]);
    expect(u1).toEqual([-1, 1, 0]);
    expect(u2).toEqual([1, -1, 0]);
  });
});

describe("scaleByAdamax", () => {
  it("divides the corrected momentum by the decayed infinity norm", () => {
    // Step 1, g = 2: mu = 0.2, nu = max(0, 2 + 1e-8); u = (0.2 / 0.1) / (2 + 1e-8).
    // Step 2, g = 1: mu = 0.18 + 0.1 = 0.28, nu = max(0.999 * (2 + 1e-8), 1 + 1e-8); u = (0.28 / 0.19) / nu.
    const [u1, u2] = updatesFor(scaleByAdamax(), [[2], [1]]);
    close(u1!, [2 / (2 + 1e-8)], 1e-14);
    close(u2!, [0.28 / 0.19 / (0.999 * (2 + 1e-8))], 1e-14);
  });
});

describe("scaleByAmsgrad", () => {
  it("never lets the denominator shrink: after a large gradient, a small one keeps the large maximum", () => {
    // Step 1, g = 10: corrected m = 10, corrected v = 100, nuMax = 100, u = 10 / (10 + eps).
    // Step 2, g = 0: mu = 0.9, corrected m = 0.9 / 0.19; nu = 0.0999 corrected by 0.001999 -> 49.97...; nuMax stays 100.
    const [u1, u2] = updatesFor(scaleByAmsgrad(), [[10], [0]]);
    close(u1!, [10 / (10 + 1e-8)], 1e-14);
    close(u2!, [0.9 / 0.19 / (10 + 1e-8)], 1e-13);
  });
});

describe("scaleByAdadelta", () => {
  it("scales by sqrt(eX + eps) / sqrt(eG + eps) and then accumulates the squared step", () => {
    // Step 1, g = 1: eG = 0.1, u = sqrt(1e-6) / sqrt(0.1 + 1e-6), eX = 0.1 u^2.
    // Step 2, g = 1: eG = 0.19, u2 = sqrt(eX + 1e-6) / sqrt(0.19 + 1e-6).
    const [u1, u2] = updatesFor(scaleByAdadelta(), [[1], [1]]);
    const step1 = Math.sqrt(1e-6) / Math.sqrt(0.1 + 1e-6);
    close(u1!, [step1], 1e-14);
    close(u2!, [Math.sqrt(0.1 * step1 * step1 + 1e-6) / Math.sqrt(0.19 + 1e-6)], 1e-14);
  });
});

describe("scaleByTrustRatio", () => {
  it("scales each leaf by ||p|| / ||u|| and leaves a zero-norm leaf alone", () => {
    const tx = scaleByTrustRatio();
    const params = { a: Float64Array.of(3, 4), z: Float64Array.of(0, 0) };
    const [u] = tx.update({ a: Float64Array.of(0, 2), z: Float64Array.of(1, 1) }, tx.init(params), params);
    // ||p_a|| = 5, ||u_a|| = 2: u_a * 2.5 = [0, 5]. ||p_z|| = 0: ratio 1.
    expect(values(u)).toEqual([0, 5, 1, 1]);
  });
});

describe("ema", () => {
  it("debiased: a constant input c comes out as c from the first step (optax's documented behaviour)", () => {
    const u = updatesFor(ema(0.9), [[5], [5], [5]]);
    u.forEach((x) => close(x, [5], 1e-15));
  });

  it("without debias: 0.1 c, then 0.19 c", () => {
    const u = updatesFor(ema(0.9, { debias: false }), [[5], [5]]);
    close(u[0]!, [0.5]);
    close(u[1]!, [0.95]);
  });
});

describe("clip, clipByBlockRms, zeroNans", () => {
  it("clip bounds every element", () => {
    expect(updatesFor(clip(1), [[-3, 0.5, 2]])[0]).toEqual([-1, 0.5, 1]);
  });

  it("clipByBlockRms rescales a leaf whose rms exceeds the threshold: [3, 4] has rms sqrt(12.5)", () => {
    const [u] = updatesFor(clipByBlockRms(1), [[3, 4]]);
    close(u!, [3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)]);
    expect(updatesFor(clipByBlockRms(10), [[3, 4]])[0]).toEqual([3, 4]);
  });

  it("zeroNans zeroes NaNs, keeps infinities, and flags the leaves that had NaNs", () => {
    const tx = zeroNans();
    const params = { a: new Float64Array(2), b: ndarray(new Float64Array(2), [1, 2]) };
    const [u, s] = tx.update(
      { a: Float64Array.of(NaN, Infinity), b: ndarray(Float64Array.of(1, 2), [1, 2]) },
      tx.init(params),
    );
    expect(values(u)).toEqual([0, Infinity, 1, 2]);
    expect(s.foundNan).toEqual([true, false]);
    // The next step's flags are its own: b's NaN now, none in a.
    const [u2, s2] = tx.update({ a: Float64Array.of(1, -0), b: ndarray(Float64Array.of(NaN, NaN), [1, 2]) }, s);
    expect(values(u2)).toEqual([1, -0, 0, 0]);
    expect(s2.foundNan).toEqual([false, true]);
    expect(s.foundNan).toEqual([true, false]);
  });

  it("zeroNans refuses flags that are not one per leaf, naming them", () => {
    const tx = zeroNans();
    const g = { a: Float64Array.of(1), b: Float64Array.of(2) };
    for (const foundNan of [[false], [false, false, false], "no"])
      expect(() => tx.update(g, { foundNan } as never)).toThrow(
        expect.objectContaining({ code: "BAD_STATE", message: expect.stringContaining("zeroNans.foundNan") }),
      );
  });
});

describe("every stateful transform keeps float32 state for float32 params and never touches its inputs", () => {
  it.each([
    ["scaleByRms", scaleByRms()],
    ["scaleByStddev", scaleByStddev()],
    ["scaleByRss", scaleByRss()],
    ["scaleByRAdam", scaleByRAdam()],
    ["scaleByLion", scaleByLion()],
    ["scaleByAdamax", scaleByAdamax()],
    ["scaleByAmsgrad", scaleByAmsgrad()],
    ["scaleByAdadelta", scaleByAdadelta()],
    ["ema", ema(0.9)],
  ] as [string, GradientTransformation][])("%s", (_, tx) => {
    const params: PyTree = { w: Float32Array.of(1, 2) };
    const g: PyTree = { w: Float32Array.of(0.5, -0.5) };
    const state = tx.init(params);
    const [u, next] = tx.update(g, state, params);
    expect((u as { w: unknown }).w).toBeInstanceOf(Float32Array);
    for (const leaf of tree.leaves(Object.values(next as object).filter((v) => typeof v === "object") as PyTree))
      expect(leaf).toBeInstanceOf(Float32Array);
    expectBitEqual(g, { w: Float32Array.of(0.5, -0.5) });
  });
});
