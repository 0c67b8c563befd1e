/**
 * The projections: optax's cases (optax/projections/_projections_test.py), the simplex and the
 * L1 ball against references written here independently of src/, and the properties every
 * Euclidean projection onto a convex set has: feasibility, idempotence, nonexpansiveness.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  projectBox,
  projectHalfspace,
  projectHyperplane,
  projectL1Ball,
  projectL2Ball,
  projectLinfBall,
  projectNonNegative,
  projectSimplex,
  tree,
  type PyTree,
} from "../src/index.js";
import { arbitraryLike, arbitraryTree } from "../src/laws/index.js";
import { codeOf, values } from "./helpers.js";

const pair = (a: number, b: number) => [Float64Array.of(a), Float64Array.of(b)];

/**
 * The simplex projection by sorting, as Duchi, Shalev-Shwartz, Singer and Chandra (2008) write
 * it: u sorted decreasing, rho = max{ j : u_j - (sum_{r <= j} u_r - s) / j > 0 }, theta = (sum_{r
 * <= rho} u_r - s) / rho, p = max(v - theta, 0). Plain arrays, no typed-array tricks.
 */
function simplexBySorting(v: number[], s: number): number[] {
  const u = [...v].sort((a, b) => b - a);
  let rho = 0;
  let total = 0;
  let totalAtRho = 0;
  u.forEach((uj, j) => {
    total += uj;
    if (uj - (total - s) / (j + 1) > 0) [rho, totalAtRho] = [j + 1, total];
  });
  const theta = (totalAtRho - s) / rho;
  return v.map((vj) => Math.max(vj - theta, 0));
}

/** The same projection by bisection on theta: sum max(v - theta, 0) decreases from +inf to 0. */
function simplexByBisection(v: number[], s: number): number[] {
  let lo = Math.min(...v) - s;
  let hi = Math.max(...v);
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (v.reduce((acc, vj) => acc + Math.max(vj - mid, 0), 0) > s) lo = mid;
    else hi = mid;
  }
  return v.map((vj) => Math.max(vj - (lo + hi) / 2, 0));
}

const vector = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 40 });
const radius = fc.double({ min: 0.01, max: 20, noNaN: true });
const distance = (a: PyTree, b: PyTree) => tree.globalNorm(tree.sub(a, b));
const float64Tree = arbitraryTree({ dtypes: ["float64"], maxMagnitude: 10 }).filter((t) => tree.size(t) > 0);
const twoTrees = float64Tree.chain((t) => fc.tuple(fc.constant(t), arbitraryLike(t)));

describe("projectNonNegative and projectBox (optax's cases)", () => {
  it("clamps below at 0, NaN kept", () => {
    expect(Array.from(projectNonNegative(Float64Array.of(-1, 2, 3)))).toEqual([0, 2, 3]);
    expect(Array.from(projectNonNegative(Float64Array.of(-0, NaN)))).toEqual([0, NaN]);
    expect(values(projectNonNegative([pair(-1, 1), { k: Float64Array.of(-2) }]))).toEqual([0, 1, 0]);
  });

  it("clamps to scalar bounds or to trees of bounds", () => {
    const x = Float64Array.of(-1, 2, 3);
    expect(Array.from(projectBox(x, 0, 2))).toEqual([0, 2, 2]);
    expect(Array.from(projectBox(x, Float64Array.of(0, 0, 0), Float64Array.of(2, 2, 2)))).toEqual([0, 2, 2]);
    const t = [Float64Array.of(-1), { k1: Float64Array.of(2), k2: [Float64Array.of(2), Float64Array.of(3)] }];
    const lower = tree.zerosLike(t);
    const upper = tree.fullLike(t, 2);
    expect(values(projectBox(t, lower, upper))).toEqual([0, 2, 2, 2]);
    expect(values(projectBox(t, -Infinity, 1))).toEqual([-1, 1, 1, 1]);
  });

  it("refuses an empty box, naming the leaf", () => {
    expect(codeOf(() => projectBox(Float64Array.of(1), 2, 1))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => projectBox({ a: Float64Array.of(1) }, { a: Float64Array.of(2) }, 1))).toBe(
      "INVALID_HYPERPARAMETER a",
    );
    expect(codeOf(() => projectBox({ a: Float64Array.of(1) }, { b: Float64Array.of(0) }, 1))).toBe(
      "STRUCTURE_MISMATCH",
    );
  });
});

describe("projectHyperplane and projectHalfspace (optax's cases)", () => {
  const a = pair(3, 4);
  it("projects (1, 2) onto 3 x + 4 y = 5 at (7/25, 26/25)", () => {
    const p = values(projectHyperplane(pair(1, 2), a, 5));
    expect(p[0]).toBeCloseTo(7 / 25, 15);
    expect(p[1]).toBeCloseTo(26 / 25, 15);
  });

  it("projects (1, 2) onto 3 x + 4 y <= 5 at the same point, and leaves (1, -2), inside, as it is", () => {
    const p = values(projectHalfspace(pair(1, 2), a, 5));
    expect(p[0]).toBeCloseTo(7 / 25, 15);
    expect(p[1]).toBeCloseTo(26 / 25, 15);
    const inside = pair(1, -2);
    expect(projectHalfspace(inside, a, 5)).toBe(inside);
  });

  it("lands on the hyperplane, and moves along a only", () => {
    fc.assert(
      fc.property(twoTrees, fc.double({ min: -10, max: 10, noNaN: true }), ([x, normal], b) => {
        fc.pre(tree.vdot(normal, normal) > 1e-6);
        const p = projectHyperplane(x, normal, b);
        expect(Math.abs(tree.vdot(normal, p) - b)).toBeLessThan(1e-9 * (1 + Math.abs(b) + tree.globalNorm(x)));
        const h = projectHalfspace(x, normal, b);
        expect(tree.vdot(normal, h)).toBeLessThanOrEqual(b + 1e-9 * (1 + Math.abs(b) + tree.globalNorm(x)));
      }),
      { numRuns: 100 },
    );
  });

  it("refuses a zero normal vector and a non-finite offset", () => {
    expect(codeOf(() => projectHyperplane(pair(1, 2), pair(0, 0), 1))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => projectHalfspace(pair(1, 2), a, NaN))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => projectHalfspace(pair(1, 2), [Float64Array.of(1)], 1))).toBe("STRUCTURE_MISMATCH");
  });
});

describe("projectSimplex", () => {
  it("matches the sort-based reference and the bisection on random vectors", () => {
    fc.assert(
      fc.property(vector, radius, (v, s) => {
        const p = Array.from(projectSimplex(Float64Array.from(v), s));
        const bySorting = simplexBySorting(v, s);
        const byBisection = simplexByBisection(v, s);
        p.forEach((pj, j) => {
          expect(Math.abs(pj - bySorting[j]!)).toBeLessThanOrEqual(1e-12 * (1 + s));
          expect(Math.abs(pj - byBisection[j]!)).toBeLessThanOrEqual(1e-9 * (1 + s));
        });
      }),
      { numRuns: 200 },
    );
  });

  it("treats all leaves as one vector, and rounds to each leaf's dtype", () => {
    // optax's docstring tree: (2.5, 3.2) and 0.5 give theta (3.2 + 2.5 - 1) / 2 = 2.35, so
    // (0.15, 0.85) and 0; here with 3.2 as the float32 leaf holds it, and theta in float64.
    const p = projectSimplex({ w: ndarray(Float32Array.of(2.5, 3.2), [2]), b: Float64Array.of(0.5) });
    expect(p.w.data).toBeInstanceOf(Float32Array);
    expect(p.w.shape).toEqual([2]);
    const f = Math.fround;
    const theta = (f(3.2) + 2.5 - 1) / 2;
    expect(values(p)).toEqual([0, f(2.5 - theta), f(f(3.2) - theta)]);
  });

  it("projects (0, 0, -Infinity) to (s/2, s/2, 0), optax's edge case", () => {
    for (const s of [1, 0.8])
      expect(Array.from(projectSimplex(Float64Array.of(0, 0, -Infinity), s))).toEqual([s / 2, s / 2, 0]);
  });

  it("refuses a sum that is not > 0", () => {
    expect(codeOf(() => projectSimplex(Float64Array.of(1), 0))).toBe("INVALID_HYPERPARAMETER");
  });
});

describe("projectL1Ball", () => {
  it("matches sign(v) times the sort-based simplex projection of |v| outside the ball, v inside", () => {
    fc.assert(
      fc.property(vector, radius, (v, s) => {
        const l1 = v.reduce((acc, vj) => acc + Math.abs(vj), 0);
        const want = l1 <= s ? v : simplexBySorting(v.map(Math.abs), s).map((pj, j) => Math.sign(v[j]!) * pj);
        Array.from(projectL1Ball(Float64Array.from(v), s)).forEach((pj, j) =>
          expect(Math.abs(pj - want[j]!)).toBeLessThanOrEqual(1e-12 * (1 + s)),
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe("the balls (optax's test_projection_ball)", () => {
  const balls = [
    ["projectL1Ball", projectL1Ball, (t: PyTree) => tree.norm(t, { ord: 1 })],
    ["projectL2Ball", projectL2Ball, (t: PyTree) => tree.norm(t)],
    ["projectLinfBall", projectLinfBall, (t: PyTree) => tree.norm(t, { ord: Infinity })],
  ] as const;
  const data: [string, PyTree][] = [
    ["a vector", Float64Array.of(0.5, 2.1, -3.5)],
    ["a matrix", ndarray(Float64Array.of(0.5, 2.1, -3.5, 1, 2, 3), [2, 3])],
    ["a tree", [Float64Array.of(0.5, 2.1, -3.5), Float64Array.of(0.5, 2.1, -3.5)]],
  ];
  describe.each(balls)("%s", (_, project, normOf) => {
    it.each(data)("%s: inside and on the boundary unchanged, outside onto the sphere", (_, x) => {
      const length = normOf(x);
      expect(values(project(x, 2 * length))).toEqual(values(x));
      values(project(x, length)).forEach((v, j) => expect(v).toBeCloseTo(values(x)[j]!, 12));
      expect(normOf(project(x, length / 2))).toBeCloseTo(length / 2, 12);
    });

    it("is feasible, idempotent and nonexpansive on arbitrary trees", () => {
      fc.assert(
        fc.property(twoTrees, radius, ([x, y], s) => {
          const px = project(x, s);
          expect(normOf(px)).toBeLessThanOrEqual(s * (1 + 1e-12));
          values(project(px, s)).forEach((v, j) =>
            expect(Math.abs(v - values(px)[j]!)).toBeLessThanOrEqual(1e-12 * (1 + s)),
          );
          expect(distance(px, project(y, s))).toBeLessThanOrEqual(distance(x, y) * (1 + 1e-12) + 1e-12);
        }),
        { numRuns: 100 },
      );
    });

    it("refuses a radius that is not > 0", () => {
      expect(codeOf(() => project(Float64Array.of(1), -1))).toBe("INVALID_HYPERPARAMETER");
      expect(codeOf(() => project(Float64Array.of(1), NaN))).toBe("INVALID_HYPERPARAMETER");
    });
  });

  it("returns the input tree itself when it is already in the L1 or L2 ball", () => {
    const x = { a: Float64Array.of(0.1, -0.2) };
    expect(projectL1Ball(x)).toBe(x);
    expect(projectL2Ball(x)).toBe(x);
  });
});

describe("every projection onto a convex set", () => {
  const sets: [string, (x: PyTree) => PyTree][] = [
    ["projectNonNegative", projectNonNegative],
    ["projectBox", (x) => projectBox(x, -1, 2)],
    ["projectSimplex", (x) => projectSimplex(x, 3)],
  ];
  it.each(sets)("%s is idempotent and nonexpansive, and leaves its input alone", (_, project) => {
    fc.assert(
      fc.property(twoTrees, ([x, y]) => {
        const before = values(x);
        const px = project(x);
        expect(values(x)).toEqual(before);
        values(project(px)).forEach((v, j) => expect(Math.abs(v - values(px)[j]!)).toBeLessThanOrEqual(1e-12));
        expect(distance(px, project(y))).toBeLessThanOrEqual(distance(x, y) * (1 + 1e-12) + 1e-12);
      }),
      { numRuns: 100 },
    );
  });

  it("projectSimplex is feasible: non-negative, summing to the scale", () => {
    fc.assert(
      fc.property(float64Tree, radius, (x, s) => {
        const p = projectSimplex(x, s);
        expect(tree.min(p)).toBeGreaterThanOrEqual(0);
        expect(Math.abs(tree.sum(p) - s)).toBeLessThanOrEqual(1e-12 * (s + tree.size(x)));
      }),
      { numRuns: 100 },
    );
  });
});
