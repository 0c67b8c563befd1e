/**
 * The lab's closed forms and measurements, checked independently: Proposition 2 against the
 * fixed point of the variance recursion derived here, a small simulation against the formulas,
 * and the deterministic-quadratic rates against gradtx runs.
 */
import { describe, expect, it } from "vitest";
import { runNqm, varianceLookahead, varianceSgd, NQM_SETTINGS } from "../docs/examples/lab/nqm.js";
import { runQuadratic } from "../docs/examples/lab/quadratic.js";

describe("the lab's noisy quadratic model", () => {
  it("Proposition 2 is the fixed point of the slow weights' variance recursion", () => {
    // One outer step: k SGD steps from the slow weights x give r^k x plus noise of variance
    // gamma^2 a^2 sigma^2 (1 - r^(2k)) / (1 - r^2); the slow weights then move alpha of the way:
    // V' = (1 - alpha + alpha r^k)^2 V + alpha^2 * that noise. Its fixed point must be V_LA.
    for (const s of NQM_SETTINGS) {
      const r = 1 - s.gamma * s.a;
      const noise = (s.gamma ** 2 * s.a ** 2 * s.sigma ** 2 * (1 - r ** (2 * s.k))) / (1 - r * r);
      const c = 1 - s.alpha + s.alpha * r ** s.k;
      const fixedPoint = (s.alpha ** 2 * noise) / (1 - c * c);
      expect(Math.abs(varianceLookahead(s) - fixedPoint)).toBeLessThanOrEqual(1e-12 * fixedPoint);
    }
  });

  it("alpha = 1 gives SGD's variance, and alpha < 1 a strictly smaller one", () => {
    for (const s of NQM_SETTINGS) {
      if (s.alpha === 1) expect(varianceLookahead(s)).toBeCloseTo(varianceSgd(s), 12);
      else expect(varianceLookahead(s)).toBeLessThan(varianceSgd(s));
    }
  });

  it("a small gradtx simulation agrees with closed forms derived here, within 4 standard errors", () => {
    const rows = runNqm(0.2);
    expect(rows).toHaveLength(NQM_SETTINGS.length);
    for (const row of rows) {
      const r = 1 - row.gamma * row.a;
      // SGD: x' = r x + gamma a c with c ~ N(0, sigma^2), whose stationary variance is
      // V = gamma^2 a^2 sigma^2 / (1 - r^2).
      const sgd = (row.gamma ** 2 * row.a ** 2 * row.sigma ** 2) / (1 - r * r);
      // Lookahead: the fixed point of V' = (1 - alpha + alpha r^k)^2 V + alpha^2 * noise (see above).
      const noise = (row.gamma ** 2 * row.a ** 2 * row.sigma ** 2 * (1 - r ** (2 * row.k))) / (1 - r * r);
      const c = 1 - row.alpha + row.alpha * r ** row.k;
      const lookahead = (row.alpha ** 2 * noise) / (1 - c * c);
      for (const [measured, expected] of [
        [row.sgd, sgd],
        [row.lookahead, lookahead],
      ] as const) {
        const context = JSON.stringify({ row, expected });
        // The standard error must be small enough for the comparison to mean something.
        expect(measured.stderr, context).toBeGreaterThan(0);
        expect(measured.stderr, context).toBeLessThan(0.1 * expected);
        expect(Math.abs(measured.simulated - expected), context).toBeLessThanOrEqual(4 * measured.stderr);
      }
    }
  });
});

describe("the lab's deterministic quadratic", () => {
  it("measures with gradtx the rates the spectral radii predict (within 3% of 1 - rho)", () => {
    // Condition 1 is left out: at its optimal learning rate the momentum map has a double
    // eigenvalue, whose t * rho^t transient a finite run cannot separate from the rate.
    for (const row of runQuadratic([10, 100, 1000], 3000)) {
      expect(Math.abs(row.measuredMomentum - row.rhoMomentum)).toBeLessThanOrEqual(0.03 * (1 - row.rhoMomentum) + 1e-4);
      expect(Math.abs(row.measuredLookahead - row.rhoLookahead)).toBeLessThanOrEqual(
        0.03 * (1 - row.rhoLookahead) + 1e-4,
      );
    }
  });
});
