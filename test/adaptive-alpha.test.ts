/** Lookahead's adaptive slow step size (paper, Section 2.1). */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  deserializeState,
  lookahead,
  serializeState,
  sgd,
  slowParams,
  type GradientTransformation,
  type LookaheadState,
  type PyTree,
} from "../src/index.js";
import { fingerprint } from "../src/laws/index.js";
import { values } from "./helpers.js";

/** A diagonal quadratic L(x) = sum(a x^2 / 2 - b x), its gradient and its loss. */
function quadratic(a: number[], b: number[]) {
  return {
    grad: (p: PyTree) => Float64Array.from(values(p).map((x, i) => a[i]! * x - b[i]!)),
    loss: (x: number[]) => x.reduce((s, xi, i) => s + (a[i]! * xi * xi) / 2 - b[i]! * xi, 0),
    optimum: b.map((bi, i) => bi / a[i]!),
  };
}

/** Runs `steps` steps of `tx` on the gradient `grad` and returns the final state. */
function runTo(
  tx: GradientTransformation,
  x0: number[],
  grad: (p: PyTree) => Float64Array,
  steps: number,
): LookaheadState {
  let params = Float64Array.from(x0);
  let state = tx.init(params);
  for (let t = 0; t < steps; t++) {
    const [u, next] = tx.update(grad(params), state, params);
    params = applyUpdates(params, u);
    state = next;
  }
  return state as LookaheadState;
}

describe('lookahead(inner, { alpha: "adaptive" })', () => {
  it("with the true Hessian as curvature on a quadratic, chooses Proposition 1's optimal alpha (before clipping)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.1, max: 10, noNaN: true }), { minLength: 2, maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.01, max: 0.15, noNaN: true }),
        (a, k, lr) => {
          const b = a.map((_, i) => (i % 2 === 0 ? 1 : -2));
          const x0 = a.map((_, i) => 3 - i);
          const q = quadratic(a, b);
          // The inner optimizer's fast weights after k steps, computed by hand: plain gradient descent.
          let x = x0.slice();
          for (let t = 0; t < k; t++) x = x.map((xi, i) => xi - lr * (a[i]! * xi - b[i]!));
          // Proposition 1: alpha* = (x0 - x*)' A (x0 - xk) / ((x0 - xk)' A (x0 - xk)).
          const d = x0.map((xi, i) => xi - x[i]!);
          const num = d.reduce((s, di, i) => s + (x0[i]! - q.optimum[i]!) * a[i]! * di, 0);
          const den = d.reduce((s, di, i) => s + di * a[i]! * di, 0);
          const optimal = num / den;
          const tx = lookahead(sgd(lr), {
            syncPeriod: k,
            alpha: "adaptive",
            alphaLow: 0,
            curvature: Float64Array.from(a),
          });
          const state = runTo(tx, x0, q.grad, k);
          expect(Math.abs(state.adaptive!.estimate - optimal)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(optimal)));
          // And it is the minimum along the line: a nudge either way raises the loss.
          const at = (t: number) => q.loss(x0.map((xi, i) => xi + t * (x[i]! - xi)));
          expect(at(optimal)).toBeLessThanOrEqual(at(optimal + 1e-3) + 1e-12);
          expect(at(optimal)).toBeLessThanOrEqual(at(optimal - 1e-3) + 1e-12);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("uses the clipped estimate to move the slow weights, and keeps it in [alphaLow, 1]", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 4 }),
        (grads, alphaLow, k) => {
          const inner = adam(0.1);
          const tx = lookahead(inner, { syncPeriod: k, alpha: "adaptive", alphaLow });
          let params: PyTree = Float64Array.of(1, -1, 0.5);
          let state = tx.init(params);
          grads.forEach((g, t) => {
            const before = slowParams(state);
            const [u, next] = tx.update(Float64Array.from(g), state, params);
            // Where the inner optimizer took the fast weights, before any pull-back.
            const [innerUpdate] = inner.update(Float64Array.from(g), state.inner, params);
            const fast = values(params).map((p, i) => p + values(innerUpdate)[i]!);
            params = applyUpdates(params, u);
            state = next;
            if ((t + 1) % k !== 0) return;
            const { alpha, estimate } = state.adaptive!;
            expect(alpha).toBeGreaterThanOrEqual(alphaLow);
            expect(alpha).toBeLessThanOrEqual(1);
            // Inside the range, the estimate itself is used.
            if (estimate >= alphaLow && estimate <= 1) expect(alpha).toBe(estimate);
            // The sync moved the slow weights by that alpha towards where the fast weights got.
            const moved = values(before).map((b, i) => b + alpha * (fast[i]! - b));
            values(slowParams(state)).forEach((x, i) =>
              expect(Math.abs(x - moved[i]!)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(x))),
            );
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it.each([
    // L(x) = x^2 / 2 (a = 1, x* = 0) from x0 = 2, one sgd(lr) step: x1 = (1 - lr) x0. Proposition 1:
    // alpha* = (x0 - x*) a (x0 - x1) / ((x0 - x1) a (x0 - x1)) = x0 / (x0 - x1) = 1 / lr.
    // lr 0.5: x1 = 1, alpha* = 2, above 1: alpha 1, and the slow weights land on x1 = 1.
    [0.5, 0.1, 2, 1, 1],
    // lr 2: x1 = -2, alpha* = 0.5, inside: the slow weights land on 2 + 0.5 (-2 - 2) = 0, the optimum.
    [2, 0.1, 0.5, 0.5, 0],
    // lr 4: x1 = -6, alpha* = 0.25, below alphaLow 0.4: alpha 0.4, slow = 2 + 0.4 (-6 - 2) = -1.2.
    [4, 0.4, 0.25, 0.4, -1.2],
  ])(
    "on x^2 / 2 from 2 with sgd(%s) and alphaLow %s: estimate %s, alpha %s, slow weights %s (by hand)",
    (lr, alphaLow, estimate, alpha, slow) => {
      const tx = lookahead(sgd(lr), { syncPeriod: 1, alpha: "adaptive", alphaLow, curvature: Float64Array.of(1) });
      const p = Float64Array.of(2);
      const [, state] = tx.update(Float64Array.of(2), tx.init(p), p);
      expect(state.adaptive!.estimate).toBeCloseTo(estimate, 14);
      expect(state.adaptive!.alpha).toBeCloseTo(alpha, 14);
      expect(values(slowParams(state))[0]).toBeCloseTo(slow, 14);
    },
  );

  it("keeps the alpha and estimate of the last sync through the steps between syncs", () => {
    // sgd(3) on x^2 / 2 from 2: x1 = 2 - 3 * 2 = -4, fast x2 = -4 - 3 * (-4) = 8. With the true
    // curvature 1: alpha* = 2 (2 - 8) / (2 - 8)^2 = -1/3, clipped to alphaLow 0.1, so slow = 2 + 0.1 * 6.
    const tx = lookahead(sgd(3), { syncPeriod: 2, alpha: "adaptive", curvature: Float64Array.of(1) });
    const state = runTo(tx, [2], (p) => Float64Array.from(values(p)), 3);
    expect(state.count).toBe(3);
    expect(state.adaptive!.estimate).toBeCloseTo(-1 / 3, 14);
    expect(state.adaptive!.alpha).toBeCloseTo(0.1, 14);
    expect(values(slowParams(state))[0]).toBeCloseTo(2.6, 14);
  });

  it("keeps no squared-gradient average when the curvature is given: nu is null, before and after a sync", () => {
    const tx = lookahead(sgd(0.1), { syncPeriod: 1, alpha: "adaptive", curvature: Float64Array.of(1) });
    const p = Float64Array.of(2);
    const state = tx.init(p);
    expect(state.adaptive!.nu).toBeNull();
    expect(tx.update(Float64Array.of(2), state, p)[1].adaptive!.nu).toBeNull();
  });

  it("refuses an adaptive record without its last alpha (BAD_STATE), even on a step that does not sync", () => {
    const tx = lookahead(sgd(0.1), { syncPeriod: 2, alpha: "adaptive" });
    const p = Float64Array.of(2);
    const state = tx.init(p);
    const { alpha: _, ...withoutAlpha } = state.adaptive!;
    expect(() => tx.update(Float64Array.of(2), { ...state, adaptive: withoutAlpha } as never, p)).toThrowError(
      expect.objectContaining({ code: "BAD_STATE" }),
    );
  });

  it("falls back to alpha 1 when the fast weights did not move (d . A d = 0)", () => {
    const tx = lookahead(sgd(0.1), { syncPeriod: 1, alpha: "adaptive" });
    const p = Float64Array.of(1, 2);
    const [, state] = tx.update(Float64Array.of(0, 0), tx.init(p), p);
    expect(state.adaptive!.alpha).toBe(1);
    expect(Number.isNaN(state.adaptive!.estimate)).toBe(true);
  });

  it("round-trips its state through serialization and resumes identically", () => {
    const tx = lookahead(adam(0.05), { syncPeriod: 3, alpha: "adaptive" });
    const grad = (p: PyTree) => Float64Array.from(values(p).map((x, i) => (i + 1) * x));
    let params: PyTree = Float64Array.of(1, -2, 3);
    let state = tx.init(params);
    const step = () => {
      const [u, next] = tx.update(grad(params), state, params);
      params = applyUpdates(params, u);
      state = next;
    };
    for (let t = 0; t < 4; t++) step();
    const restored = deserializeState(serializeState(state), tx.init(Float64Array.of(0, 0, 0)));
    expect(fingerprint(restored)).toBe(fingerprint(state));
    const saved = { params, state };
    for (let t = 0; t < 5; t++) step();
    const expected = fingerprint(params);
    params = saved.params;
    state = restored;
    for (let t = 0; t < 5; t++) step();
    expect(fingerprint(params)).toBe(expected);
  });

  it("validates its options when built", () => {
    expect(() => lookahead(sgd(1), { alpha: "adaptive", alphaLow: 2 })).toThrowError(
      /alphaLow must be a number in \[0, 1\]/,
    );
    expect(() => lookahead(sgd(1), { alpha: "adaptive", curvatureDecay: 1 })).toThrowError(/curvatureDecay/);
    expect(() => lookahead(sgd(1), { alpha: "adaptive", curvature: Float64Array.of(-1) })).toThrowError(
      /curvature must hold finite numbers >= 0/,
    );
    expect(() => lookahead(sgd(1), { alpha: 0.5, alphaLow: 0.2 })).toThrowError(/only with alpha: "adaptive"/);
    // A decay that a fixed alpha would silently ignore is refused as the other adaptive options are.
    expect(() => lookahead(sgd(1), { alpha: 0.5, curvatureDecay: 0.9 })).toThrowError(/only with alpha: "adaptive"/);
  });
});
