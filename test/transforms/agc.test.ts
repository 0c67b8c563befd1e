/**
 * adaptiveGradClip against optax's formulas worked out with numpy (test/fixtures/agc.py, its
 * numbers in agc.json), optax's own test's properties (each unit's norm within the bound, and
 * clipping twice is clipping once), and its errors.
 */
import { readFileSync } from "node:fs";
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { adaptiveGradClip, chain, compile, sgd, type FloatArray, type PyTree } from "../../src/index.js";
import { dataOf, flatten } from "../../src/core/pytree.js";
import { caught, expectBitEqual, trajectory, values } from "../helpers.js";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/agc.json", import.meta.url), "utf8")) as {
  readonly cases: {
    readonly name: string;
    readonly clipping: number;
    readonly eps: number;
    readonly axis: number | number[] | null;
    readonly shapes: number[][];
    readonly grads: number[][];
    readonly params: number[][];
    readonly updates: number[][];
  }[];
};

/** A leaf of `shape` over `data`: a typed array for a vector, else an ndarray. */
const leafOf = (data: FloatArray, shape: readonly number[]): PyTree =>
  shape.length === 1 ? data : (ndarray(data, [...shape]) as PyTree);

describe("adaptiveGradClip against numpy", () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    for (const ctor of [Float64Array, Float32Array]) {
      const tree = (leaves: number[][]) => leaves.map((l, i) => leafOf(ctor.from(l), c.shapes[i]!));
      const tx = adaptiveGradClip(c.clipping, { eps: c.eps, axis: c.axis });
      const params = tree(c.params);
      const [u] = tx.update(tree(c.grads), tx.init(params), params);
      const got = flatten(u).leaves.map((l) => Array.from(dataOf(l)));
      // float64: sums in another order; float32: the inputs and the factor rounded to float32.
      const tolerance = ctor === Float64Array ? 1e-15 : 3e-7;
      got.forEach((leaf, i) =>
        leaf.forEach((v, k) => {
          const want = c.updates[i]![k]!;
          expect(Math.abs(v - want), `leaf ${i}, element ${k}: ${v} vs ${want}`).toBeLessThanOrEqual(
            tolerance * Math.abs(want),
          );
        }),
      );
    }
  });
});

/** Each unit's norm of a (2, 3) matrix leaf: the norms of its three columns. */
const columnNorms = (m: readonly number[]) => [0, 1, 2].map((j) => Math.hypot(m[j]!, m[3 + j]!));

describe("adaptiveGradClip's promises (optax's _clipping_test.py, test_adaptive_grad_clip)", () => {
  const column = fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 });
  it("bounds every unit's norm by clipping * max(||p||, eps), leaves smaller units as they are, and clipping twice is clipping once", () => {
    fc.assert(
      fc.property(column, column, fc.double({ min: 0.01, max: 3, noNaN: true }), (g, p, clipping) => {
        const tx = adaptiveGradClip(clipping);
        const matrix = (v: readonly number[]) => ({ w: ndarray(Float64Array.from(v), [2, 3]) as PyTree });
        const params = matrix(p);
        const state = tx.init(params);
        const [u] = tx.update(matrix(g), state, params);
        const [again] = tx.update(u, state, params);
        const bound = columnNorms(p).map((n) => clipping * Math.max(n, 1e-3));
        const before = columnNorms(g);
        const after = columnNorms(values(u));
        after.forEach((n, j) => {
          expect(n).toBeLessThanOrEqual(bound[j]! * (1 + 1e-12));
          if (before[j]! < bound[j]!) {
            expect(values(u)[j]).toBe(g[j]);
            expect(values(u)[3 + j]).toBe(g[3 + j]);
          }
        });
        values(again).forEach((v, k) => expect(v).toBeCloseTo(values(u)[k]!, 12));
      }),
      { numRuns: 100 },
    );
  });

  it("runs in compile as plain TypeScript between the passes, with the pure path's bits", () => {
    const tx = chain(adaptiveGradClip(0.1), sgd(0.5));
    const x0 = { w: ndarray(Float32Array.of(1, -2, 3, 0.5, 2, -1), [3, 2]) as PyTree, b: Float64Array.of(0, 4) };
    const grad = (p: PyTree): PyTree => {
      const [b, w] = flatten(p).leaves.map((l) => Array.from(dataOf(l), (v) => 2 * v + 1));
      return { w: ndarray(Float32Array.from(w!), [3, 2]) as PyTree, b: Float64Array.from(b!) };
    };
    const run = compile(tx, x0);
    trajectory(tx, x0, grad, 4).forEach((point, t) => {
      run.step(grad(run.params));
      expectBitEqual(run.params, point.params, `step ${t + 1}`);
    });
    expect(run.reason).toMatch(/plain TypeScript.*AdaptiveGradClip/);
    run.dispose();
  });
});

describe("adaptiveGradClip's errors", () => {
  it("names the leaf whose shape has no default units, or for which an axis is out of range, at init", () => {
    const six = { deep: ndarray(new Float64Array(64), [2, 2, 2, 2, 2, 2]) as PyTree };
    const e = caught(() => adaptiveGradClip(1).init(six));
    expect(e.code).toBe("INVALID_HYPERPARAMETER");
    expect(e.path).toBe("deep");
    expect(e.message).toMatch(/shape \[2, 2, 2, 2, 2, 2\] has no default units \(ranks 1 to 5 have\); pass axis/);
    expect(() => adaptiveGradClip(1, { axis: [0, 1, 2] }).init(six)).not.toThrow();
    const axis = caught(() => adaptiveGradClip(1, { axis: 1 }).init({ v: Float64Array.of(1, 2) }));
    expect(axis.path).toBe("v");
    expect(axis.message).toMatch(/axis 1 is out of range for a leaf of shape \[2\]/);
  });

  it("refuses bad options when built, and needs the params", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => adaptiveGradClip(-1), /adaptiveGradClip: clipping must be a number >= 0, got -1/],
      [() => adaptiveGradClip(1, { eps: -1 }), /eps must be a number >= 0, got -1/],
      [() => adaptiveGradClip(1, { axis: 0.5 }), /axis\[0\] must be an integer, got 0.5/],
      [() => adaptiveGradClip(1, { axis: [0, 0] }), /axis repeats an axis: \[0, 0\]/],
      [() => adaptiveGradClip(1, { axis: "0" as never }), /axis must be an integer or an array of integers/],
      [() => adaptiveGradClip(1, { clipping: 1 } as never), /clipping/],
    ];
    for (const [build, message] of cases)
      expect(build).toThrowError(
        expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
      );
    const tx = adaptiveGradClip(1);
    const g = Float64Array.of(1, 2);
    expect(caught(() => tx.update(g, tx.init(g))).code).toBe("MISSING_PARAMS");
    expect(caught(() => tx.update(g, tx.init(g), Float64Array.of(1, 2, 3))).code).toBe("SHAPE_MISMATCH");
    expect(Array.from(g)).toEqual([1, 2]);
  });
});
