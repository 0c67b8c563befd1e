/**
 * L-BFGS and the line searches: trajectories against test/fixtures/lbfgs.json (numpy, from optax's
 * formulas), optax's doctest numbers, convergence to known minimisers, the conditions each line
 * search promises (property tests), float32 arithmetic, and the errors.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  chain,
  lbfgs,
  scaleByBacktrackingLinesearch,
  scaleByLbfgs,
  scaleByZoomLinesearch,
  sgd,
  tree,
  type ExtraArgs,
  type ExtraArgsWith,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";

type Vec = Float64Array;
interface Problem {
  readonly f: (x: Vec) => number;
  readonly g: (x: Vec) => Vec;
}

/** The extra arguments of a problem at `x`: the loss, its gradient, and both as functions. */
const extraOf = (
  { f, g }: Problem,
  x: PyTree,
): ExtraArgsWith<"value" | "grad" | "valueFn" | "gradFn"> & { grad: Vec } => ({
  value: f(x as Vec),
  grad: g(x as Vec),
  valueFn: (p) => f(p as Vec),
  gradFn: (p) => g(p as Vec),
});

/** Runs `tx` for `steps` steps from `x0`, the gradient and the line search's functions from `problem`. */
function run(tx: GradientTransformation, problem: Problem, x0: readonly number[], steps: number) {
  let x: PyTree = Float64Array.from(x0);
  let state = tx.init(x);
  const out: { params: number[]; state: unknown }[] = [];
  for (let t = 0; t < steps; t++) {
    const extra = extraOf(problem, x);
    const [u, next]: readonly [PyTree, unknown] = tx.update(extra.grad, state, x, extra);
    x = applyUpdates(x, u);
    state = next;
    out.push({ params: Array.from(x as Vec), state });
  }
  return out;
}

const rosenbrock: Problem = {
  f: (x) => (1 - x[0]!) ** 2 + 100 * (x[1]! - x[0]! ** 2) ** 2,
  g: (x) => Float64Array.of(-2 * (1 - x[0]!) - 400 * x[0]! * (x[1]! - x[0]! ** 2), 200 * (x[1]! - x[0]! ** 2)),
};

/** f(x) = 0.5 x^T A x - b^T x for a symmetric positive definite A (row-major), written out by hand. */
function quadratic(A: readonly number[][], b: readonly number[]): Problem {
  const Ax = (x: Vec) => Float64Array.from(A, (row) => row.reduce((s, a, j) => s + a * x[j]!, 0));
  return {
    f: (x) => Ax(x).reduce((s, v, i) => s + 0.5 * v * x[i]! - b[i]! * x[i]!, 0),
    g: (x) => Ax(x).map((v, i) => v - b[i]!),
  };
}

/** The quadratic of the fixtures script. */
const fixtureQuadratic = quadratic(
  [
    [4, 1, 0.5],
    [1, 3, -0.2],
    [0.5, -0.2, 0.2],
  ],
  [1, -2, 0.5],
);

type Record = { readonly params: number[]; readonly learningRate: number; readonly numLinesearchSteps: number };
const trajectories = JSON.parse(readFileSync(new URL("fixtures/lbfgs.json", import.meta.url), "utf8")) as {
  readonly [name: string]: readonly Record[];
};

/** Checks a run against a fixture trajectory: params within 1e-12 relative, the line search's numbers. */
function matches(
  got: { params: number[]; state: unknown }[],
  want: readonly Record[],
  searchOf: (state: unknown) => { learningRate: number; info: { numLinesearchSteps: number } },
) {
  expect(got.length).toBe(want.length);
  got.forEach(({ params, state }, t) => {
    const step = want[t]!;
    params.forEach((x, i) => expect(Math.abs(x - step.params[i]!)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(x))));
    const search = searchOf(state);
    expect(Math.abs(search.learningRate - step.learningRate)).toBeLessThanOrEqual(1e-12 * step.learningRate);
    expect(search.info.numLinesearchSteps).toBe(step.numLinesearchSteps);
  });
}

type Search = { learningRate: number; grad: PyTree; info: { numLinesearchSteps: number } };
const third = (state: unknown) => (state as Search[])[2]!;
const second = (state: unknown) => (state as Search[])[1]!;

describe("trajectories from optax's formulas (test/fixtures/lbfgs.py)", () => {
  it("lbfgs with its zoom line search on Rosenbrock from [-1.2, 1]", () => {
    const got = run(lbfgs(), rosenbrock, [-1.2, 1], 12);
    matches(got, trajectories["lbfgs zoom on rosenbrock from [-1.2, 1]"]!, third);
  });

  it("lbfgs with memorySize 3, no initial scaling and a backtracking line search, on a quadratic", () => {
    const tx = lbfgs({
      memorySize: 3,
      scaleInitPrecond: false,
      linesearch: scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 20 }),
    });
    const got = run(tx, fixtureQuadratic, [1, 1, 1], 8);
    const name = "lbfgs memorySize 3 without scaleInitPrecond, backtracking, on the quadratic from [1, 1, 1]";
    matches(got, trajectories[name]!, third);
  });

  it("sgd(1) then the zoom line search, which keeps its last learning rate as the next guess", () => {
    const got = run(chain(sgd(1), scaleByZoomLinesearch({ maxLinesearchSteps: 15 })), fixtureQuadratic, [1, 1, 1], 5);
    matches(got, trajectories["sgd(1) then zoom (keep) on the quadratic from [1, 1, 1]"]!, second);
  });
});

const sumOfSquares: Problem = { f: (x) => x.reduce((s, v) => s + v * v, 0), g: (x) => x.map((v) => 2 * v) };

describe("optax's doctest numbers", () => {
  it("lbfgs on sum(x^2) from [1, 2, 3]: 7.52E+00, then the minimum (optax/_src/alias.py, lbfgs)", () => {
    const got = run(lbfgs(), sumOfSquares, [1, 2, 3], 2);
    const values = got.map(({ params }) => sumOfSquares.f(Float64Array.from(params)));
    expect(values[0]!.toExponential(2)).toBe("7.52e+0");
    // optax prints 7.46E-14 in float32; in float64 the second step lands closer still.
    expect(values[1]!).toBeLessThan(1e-13);
  });

  it("sgd(1) and a backtracking line search with storeGrad (optax/_src/linesearch.py)", () => {
    const tx = chain(sgd(1), scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15, storeGrad: true }));
    const got = run(tx, sumOfSquares, [1, 2, 3], 5);
    const values = got.map(({ params }) => sumOfSquares.f(Float64Array.from(params)).toExponential(2));
    expect(values).toEqual(["5.04e+0", "1.81e+0", "6.53e-1", "2.35e-1", "8.47e-2"]);
    // The gradient it stored is the one at the new params.
    const last = got[4]!;
    expect(Array.from(second(last.state).grad as Vec)).toEqual(last.params.map((v) => 2 * v));
  });

  it("sgd(1) and a backtracking line search on a loss of data (optax/_src/linesearch.py)", () => {
    // fn(params, x, y) = l2_loss(x . params, y) = 0.5 (x . params - y)^2 with x = [3, 2, 1], y = 0
    const dotX = (p: Vec) => 3 * p[0]! + 2 * p[1]! + p[2]!;
    const l2: Problem = { f: (p) => 0.5 * dotX(p) ** 2, g: (p) => Float64Array.of(3, 2, 1).map((a) => a * dotX(p)) };
    const tx = chain(sgd(1), scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15 }));
    const got = run(tx, l2, [1, 2, 3], 5);
    const values = got.map(({ params }) => l2.f(Float64Array.from(params)).toExponential(2));
    expect(values).toEqual(["3.86e+1", "2.50e+1", "1.34e+1", "5.87e+0", "5.81e+0"]);
  });

  it("sgd(1) and the zoom line search reach the minimum of sum(x^2) in one step (optax/_src/linesearch.py)", () => {
    const got = run(chain(sgd(1), scaleByZoomLinesearch({ maxLinesearchSteps: 15 })), sumOfSquares, [1, 2, 3], 5);
    for (const { params } of got) expect(sumOfSquares.f(Float64Array.from(params))).toBe(0);
  });
});

describe("lbfgs converges", () => {
  it("on an ill-conditioned quadratic (condition number about 1e4), to the closed-form minimiser", () => {
    const A = [
      [1000, 1, 0],
      [1, 10, 0.5],
      [0, 0.5, 0.1],
    ];
    const minimiser = [1, -2, 3];
    // b = A x*, so that the minimiser of 0.5 x^T A x - b^T x is x*.
    const b = A.map((row) => row.reduce((s, a, j) => s + a * minimiser[j]!, 0));
    const got = run(lbfgs(), quadratic(A, b), [0, 0, 0], 30);
    got[29]!.params.forEach((x, i) => expect(Math.abs(x - minimiser[i]!)).toBeLessThan(1e-9));
  });

  it("on Rosenbrock from [-1.2, 1], to [1, 1]", () => {
    const got = run(lbfgs(), rosenbrock, [-1.2, 1], 60);
    got[59]!.params.forEach((x) => expect(Math.abs(x - 1)).toBeLessThan(1e-9));
  });
});

/** Random convex quadratics 0.5 sum a_i (x_i - c_i)^2, a point, and the gradient-descent direction there. */
const convexQuadratics = fc
  .integer({ min: 1, max: 6 })
  .chain((n) =>
    fc.record({
      a: fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: n, maxLength: n }),
      c: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
      x: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
      scale: fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
    }),
  )
  .filter(({ c, x }) => c.some((ci, i) => Math.abs(ci - x[i]!) > 1e-3));

function separable({ a, c }: { a: number[]; c: number[] }): Problem {
  return {
    f: (x) => x.reduce((s, v, i) => s + 0.5 * a[i]! * (v - c[i]!) ** 2, 0),
    g: (x) => x.map((v, i) => a[i]! * (v - c[i]!)),
  };
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((s, v, i) => s + v * y[i]!, 0);

/** A drawn quadratic, its point, the extra arguments there, and a descent direction of any length (minus the gradient, scaled). */
function descentCase(q: { a: number[]; c: number[]; x: number[]; scale: number }) {
  const problem = separable(q);
  const x = Float64Array.from(q.x);
  const extra = extraOf(problem, x);
  const u = extra.grad.map((v) => -q.scale * v);
  return { problem, x, extra, u };
}

describe("the line searches keep their promises", () => {
  it("the zoom line search (Armijo only) returns a learning rate satisfying the strong Wolfe conditions", () => {
    const c1 = 1e-4;
    const c2 = 0.9;
    const tx = scaleByZoomLinesearch({ maxLinesearchSteps: 30, approxDecRtol: null });
    fc.assert(
      fc.property(convexQuadratics, (q) => {
        const { problem, x, extra, u } = descentCase(q);
        const [scaled, state] = tx.update(u, tx.init(x), x, extra);
        const eta = state.learningRate;
        expect(eta).toBeGreaterThan(0);
        Array.from(scaled as Vec).forEach((v, i) => expect(v).toBe(eta * u[i]!));
        const next = x.map((v, i) => v + eta * u[i]!);
        const slope0 = dot(extra.grad as Vec, u);
        const slope = dot(problem.g(next), u);
        // Sufficient decrease and the strong curvature condition, within roundings of the loss.
        expect(problem.f(next)).toBeLessThanOrEqual(extra.value + c1 * eta * slope0 + 1e-12 * Math.abs(extra.value));
        expect(Math.abs(slope)).toBeLessThanOrEqual(c2 * Math.abs(slope0) * (1 + 1e-12));
        expect(state.info.decreaseError).toBe(0);
        expect(state.info.curvatureError).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("the backtracking line search returns a learning rate satisfying Armijo's condition", () => {
    const c = 1e-4;
    const tx = scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 60 });
    fc.assert(
      fc.property(convexQuadratics, (q) => {
        const { problem, x, extra, u } = descentCase(q);
        const [, state] = tx.update(u, tx.init(x), x, { value: extra.value, grad: extra.grad, valueFn: extra.valueFn });
        const eta = state.learningRate;
        expect(eta).toBeGreaterThan(0);
        expect(eta).toBeLessThanOrEqual(1);
        const next = x.map((v, i) => v + eta * u[i]!);
        expect(problem.f(next)).toBeLessThanOrEqual(extra.value + c * eta * dot(extra.grad as Vec, u));
        expect(state.value).toBe(problem.f(next));
        expect(state.info.decreaseError).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe("dtypes", () => {
  it("float32 params: the state's trees are float32 and the first direction is float32 arithmetic", () => {
    const tx = scaleByLbfgs();
    const params = { w: Float32Array.of(1, 2), b: Float64Array.of(3) };
    // Squares that sum exactly: ||g|| = sqrt(0.5625 + 2.25 + 0.25) = 1.75.
    const grads = { w: Float32Array.of(0.75, -1.5), b: Float64Array.of(0.5) };
    const [d, state] = tx.update(grads, tx.init(params), params);
    // gamma_0 = min(1, 1 / ||g||), a float64 number; each product is rounded to float32.
    const gamma = 1 / 1.75;
    expect((d as typeof grads).w).toBeInstanceOf(Float32Array);
    expect(Array.from((d as typeof grads).w)).toEqual([Math.fround(gamma * 0.75), Math.fround(gamma * -1.5)]);
    expect(Array.from((d as typeof grads).b)).toEqual([gamma * 0.5]);
    expect((state.params as typeof params).w).toBeInstanceOf(Float32Array);
    expect((state.updates as typeof params).w).toBeInstanceOf(Float32Array);
    expect((state.diffParamsMemory[0] as typeof params).w).toBeInstanceOf(Float32Array);
  });

  it("float32 params through lbfgs: every tree of the state stays float32, and the loss falls", () => {
    const tx = lbfgs();
    let x: Float32Array = Float32Array.of(1, 2, 3);
    let state = tx.init(x);
    const f = (p: PyTree) => tree.vdot(p, p);
    for (let t = 0; t < 3; t++) {
      const grad: Float32Array = tree.scale(2, x);
      const [u, next] = tx.update(grad, state, x, { value: f(x), grad, valueFn: f, gradFn: (p) => tree.scale(2, p) });
      expect(u).toBeInstanceOf(Float32Array);
      x = applyUpdates(x, u);
      state = next;
    }
    expect(state[2].grad).toBeInstanceOf(Float32Array);
    expect(state[0].diffUpdatesMemory[1]).toBeInstanceOf(Float32Array);
    expect(f(x)).toBeLessThan(1e-10);
  });
});

describe("errors", () => {
  const x = Float64Array.of(1, 2);
  const extra = extraOf(sumOfSquares, x);
  const code = (thunk: () => unknown) => {
    try {
      thunk();
    } catch (e) {
      return [(e as { code?: string }).code, (e as Error).message];
    }
    return ["nothing thrown", ""];
  };

  it.each(["value", "grad", "valueFn", "gradFn"] as const)(
    "the zoom line search without extra.%s: MISSING_EXTRA_ARG naming it",
    (field) => {
      const tx = lbfgs();
      const partial: ExtraArgs = { ...extra, [field]: undefined };
      const [c, message] = code(() => tx.update(extra.grad, tx.init(x), x, partial as never));
      expect(c).toBe("MISSING_EXTRA_ARG");
      expect(message).toContain(`extra.${field}`);
    },
  );

  it("the backtracking line search needs gradFn only with storeGrad", () => {
    const { gradFn: _, ...noGradFn } = extra;
    const plain = scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 5 });
    expect(() => plain.update(extra.grad, plain.init(x), x, noGradFn)).not.toThrow();
    const storing = scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 5, storeGrad: true });
    const [c, message] = code(() => storing.update(extra.grad, storing.init(x), x, noGradFn as never));
    expect(c).toBe("MISSING_EXTRA_ARG");
    expect(message).toContain("extra.gradFn");
  });

  it("scaleByLbfgs reads the params: MISSING_PARAMS without them", () => {
    const tx = scaleByLbfgs();
    expect(code(() => tx.update(x, tx.init(x)))[0]).toBe("MISSING_PARAMS");
  });

  it("a valueFn that returns no number, or a gradFn of another structure, is refused naming it", () => {
    const tx = lbfgs();
    const [c1, m1] = code(() => tx.update(extra.grad, tx.init(x), x, { ...extra, valueFn: () => "1" as never }));
    expect([c1, m1]).toEqual(["INVALID_HYPERPARAMETER", expect.stringContaining("extra.valueFn must return a number")]);
    const [c2, m2] = code(() => tx.update(extra.grad, tx.init(x), x, { ...extra, gradFn: () => Float64Array.of(1) }));
    expect([c2, m2]).toEqual(["SHAPE_MISMATCH", expect.stringContaining("extra.gradFn")]);
  });

  it.each([
    ["memorySize 0", () => scaleByLbfgs({ memorySize: 0 }), /memorySize must be an integer/],
    ["scaleInitPrecond 1", () => lbfgs({ scaleInitPrecond: 1 as never }), /lbfgs: scaleInitPrecond must be a boolean/],
    ["learningRate -1", () => lbfgs({ learningRate: -1 }), /lbfgs: learningRate must be a number >= 0/],
    ["linesearch {}", () => lbfgs({ linesearch: {} as never }), /expected a GradientTransformation/],
    ["memory_size", () => lbfgs({ memory_size: 3 } as never), /memorySize/],
    ["no maxLinesearchSteps", () => scaleByZoomLinesearch({} as never), /maxLinesearchSteps must be an integer >= 1/],
    [
      "initialGuessStrategy two",
      () => scaleByZoomLinesearch({ maxLinesearchSteps: 3, initialGuessStrategy: "two" as never }),
      /initialGuessStrategy must be "one" or "keep"/,
    ],
    ["curvRtol -1", () => scaleByZoomLinesearch({ maxLinesearchSteps: 3, curvRtol: -1 }), /curvRtol/],
    [
      "decreaseFactor 1",
      () => scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 3, decreaseFactor: 1 }),
      /decreaseFactor must be a number in \(0, 1\)/,
    ],
  ])("%s: INVALID_HYPERPARAMETER when built", (_, build, message) => {
    expect(build).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
    );
  });

  it("a state of another memorySize, or with a memory of another structure, is BAD_STATE or a mismatch", () => {
    const small = scaleByLbfgs({ memorySize: 2 });
    const large = scaleByLbfgs({ memorySize: 3 });
    expect(code(() => small.update(x, large.init(x), x))[0]).toBe("BAD_STATE");
    const bad = { ...small.init(x), diffParamsMemory: [x, Float64Array.of(1)] };
    expect(code(() => small.update(x, bad, x))).toEqual(["SHAPE_MISMATCH", expect.any(String)]);
    const weights = { ...small.init(x), weightsMemory: [0, "0"] as never };
    expect(code(() => small.update(x, weights, x))[0]).toBe("BAD_STATE");
  });
});
