import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  addDecayedWeights,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  deserializeState,
  exponentialDecay,
  GradTxError,
  lookahead,
  nadam,
  rmsprop,
  scale,
  serializeState,
  sgd,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, type Problem } from "../src/laws/index.js";
import { flatten, dataOf } from "../src/pytree.js";
import { kernels, plan } from "../src/compile/plan.js";
import { coalesce, split } from "../src/compile/threads.js";
import { expectBitEqual, snapshot, values } from "./helpers.js";

/** Every optimizer shape the compiled path runs, built from a learning rate. */
const supported: readonly [string, (lr: number) => GradientTransformation][] = [
  ["sgd", (lr) => sgd(lr)],
  ["sgd momentum", (lr) => sgd(lr, { momentum: 0.9 })],
  ["sgd nesterov", (lr) => sgd(lr, { momentum: 0.8, nesterov: true })],
  ["adam", (lr) => adam(lr)],
  ["adam epsRoot", (lr) => adam(lr, { eps: 0, epsRoot: 1e-8 })],
  ["nadam", (lr) => nadam(lr)],
  ["adamw", (lr) => adamw(lr, { weightDecay: 0.1 })],
  ["adamw masked", (lr) => adamw(lr, { weightDecay: 0.1, mask: (path) => path.endsWith("]") })],
  ["adam, schedule", (lr) => adam(exponentialDecay({ initValue: lr, transitionSteps: 2, decayRate: 0.5 }))],
  ["clip, adam", (lr) => chain(clipByGlobalNorm(1), adam(lr))],
  ["clip, decay, lookahead(adam)", (lr) => chain(clipByGlobalNorm(2), addDecayedWeights(0.01), lookahead(adam(lr)))],
  ["lookahead(sgd momentum) k 3", (lr) => lookahead(sgd(lr, { momentum: 0.9 }), { syncPeriod: 3, alpha: 0.3 })],
  ["lookahead reset k 2", (lr) => lookahead(adam(lr), { syncPeriod: 2, innerState: "reset" })],
  [
    "lookahead(chain(clip, scale, adam))",
    (lr) => lookahead(chain(clipByGlobalNorm(0.5), scale(2), adam(lr)), { syncPeriod: 1 }),
  ],
  ["lookahead k 1 alpha 1", (lr) => lookahead(sgd(lr), { syncPeriod: 1, alpha: 1 })],
];

/** The pure trajectory: params and state after each gradient. */
function pureRun(tx: GradientTransformation, params: PyTree, grads: readonly PyTree[]) {
  let p = params;
  let s = tx.init(params);
  const out: { params: PyTree; state: unknown }[] = [];
  for (const g of grads) {
    const [u, next] = tx.update(g, s, p);
    p = applyUpdates(p, u);
    s = next;
    out.push({ params: p, state: s });
  }
  return out;
}

/** Every number in a state (counts and array elements), in a fixed order. */
function stateNumbers(state: unknown): number[] {
  if (typeof state === "number") return [state];
  if (ArrayBuffer.isView(state)) return Array.from(state as Float64Array);
  if (Array.isArray(state)) return state.flatMap(stateNumbers);
  if (typeof state === "object" && state !== null)
    return Object.keys(state)
      .sort()
      .flatMap((k) => stateNumbers((state as Record<string, unknown>)[k]));
  return [];
}

/** |a - b| <= tolerance(b) elementwise, with the first bad index in the message. */
function expectWithin(actual: number[], expected: number[], tolerance: (x: number) => number, label: string) {
  expect(actual.length, `${label}: count`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++)
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance(expected[i]!)))
      expect.fail(`${label}: element ${i}: compiled ${actual[i]}, pure ${expected[i]}`);
}

/**
 * The problem with every element below 2^-60 in magnitude set to 0. In float32 the compiled path
 * rounds each operation to float32, so `0.1 * g` underflows for a subnormal `g` where the pure
 * path's float64 intermediate does not; with weight decay, Adam's gain of about lr * wd / eps per
 * step (1e5 here) then grows that 1e-38 into a visible difference. That is float32 arithmetic, not
 * a bug, and compile's documentation says so; the property checks the normal range.
 */
function awayFromUnderflow(problem: Problem): Problem {
  const flush = (tree: PyTree) =>
    flatten(tree).leaves.forEach((leaf) => {
      const d = dataOf(leaf);
      for (let j = 0; j < d.length; j++) if (Math.abs(d[j]!) < 2 ** -60) d[j] = 0;
    });
  flush(problem.params);
  problem.grads.forEach(flush);
  return problem;
}

const learningRate = fc.double({ min: 1e-4, max: 0.1, noNaN: true });
const optimizer = fc.constantFrom(...supported);

describe("compile: the compiled path computes what the pure path computes", () => {
  it("every supported optimizer runs compiled", () => {
    for (const [name, make] of supported) expect(compile(make(0.1), Float64Array.of(1)).backend, name).toBe("wasm");
  });

  /** Property: compiled and pure agree after every step, within `tolerance(step)(pure value)`. */
  const agreeOverRandomTrees = (
    dtype: "float32" | "float64",
    tolerance: (step: number) => (x: number) => number,
    numRuns: number,
  ) =>
    fc.assert(
      fc.property(
        arbitraryProblem({ dtypes: [dtype], maxLeafLength: 9 }).map(awayFromUnderflow),
        optimizer,
        learningRate,
        (problem, [name, make], lr) => {
          const tx = make(lr);
          const run = compile(tx, problem.params);
          pureRun(tx, problem.params, problem.grads).forEach((want, t) => {
            run.step(problem.grads[t]!);
            const tol = tolerance(t + 1);
            const after = `${name}, after step ${t + 1}`;
            expectWithin(values(run.params), values(want.params), tol, `${after}: params`);
            expectWithin(stateNumbers(run.state()), stateNumbers(want.state), tol, `${after}: state`);
          });
        },
      ),
      { numRuns },
    );

  it("float64: params and state within 1e-12 of the pure path at every step, over random trees", () => {
    agreeOverRandomTrees("float64", () => (x) => 1e-12 * Math.max(1, Math.abs(x)), 150);
  });

  it("float32: within a few float32 ulps per step (float32 arithmetic, where the pure path rounds once per array)", () => {
    // 2^-20 is 8 float32 ulps of 1 (relative to the larger of |x| and 1), per step taken.
    agreeOverRandomTrees("float32", (steps) => (x) => steps * 2 ** -20 * Math.max(1, Math.abs(x)), 100);
  });

  it("mixed float32 and float64 leaves each run in their own dtype", () => {
    const params = { a: Float32Array.of(1, -2, 3, 0.5, 7), b: Float64Array.of(0.25, -1, 4) };
    const grads = [0, 1, 2, 3, 4, 5, 6].map((t) => ({
      a: Float32Array.from([1, 2, 3, 4, 5], (x) => Math.sin(x + t)),
      b: Float64Array.from([1, 2, 3], (x) => Math.cos(x * t)),
    }));
    const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.05), { syncPeriod: 3 }));
    const run = compile(tx, params);
    const want = pureRun(tx, params, grads);
    grads.forEach((g) => run.step(g));
    const last = want[want.length - 1]!.params as { a: Float32Array; b: Float64Array };
    const got = run.params;
    expect(got.a).toBeInstanceOf(Float32Array);
    expectWithin(Array.from(got.b), Array.from(last.b), () => 1e-12, "float64 leaf");
    expectWithin(Array.from(got.a), Array.from(last.a), (x) => 7 * 2 ** -20 * Math.max(1, Math.abs(x)), "float32 leaf");
  });
});

describe("compile: state in and out", () => {
  const params = { w: Float64Array.of(0.5, -1, 2, 3, -4), b: [Float64Array.of(1)] };
  const gradAt = (t: number) => ({
    w: Float64Array.from([1, 2, 3, 4, 5], (x) => Math.sin(x * (t + 1))),
    b: [Float64Array.of(t % 3)],
  });
  const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 4 }));

  it("state() is a pure state: it serializes and the pure API continues from it", () => {
    const run = compile(tx, params);
    for (let t = 0; t < 6; t++) run.step(gradAt(t));
    const state = deserializeState(serializeState(run.state()), tx.init(params));
    const p = structuredClone(run.params);
    const [u] = tx.update(gradAt(6), state, p);
    run.step(gradAt(6));
    expectBitEqual(run.params, applyUpdates(p, u), "one pure step from the snapshot");
  });

  it("compile continues from a pure state, bit for bit in float64", () => {
    const want = pureRun(tx, params, [0, 1, 2, 3, 4, 5, 6, 7].map(gradAt));
    const run = compile(tx, want[4]!.params, { state: want[4]!.state });
    for (let t = 5; t < 8; t++) run.step(gradAt(t));
    expectWithin(values(run.params), values(want[7]!.params), () => 1e-15, "params after resuming");
  });

  it("a snapshot shares nothing with the buffers, and compile copies its params", () => {
    const before = snapshot(params);
    const run = compile(tx, params);
    run.step(gradAt(0));
    const state = run.state();
    const bits = stateNumbers(state);
    run.step(gradAt(1));
    expect(stateNumbers(state)).toEqual(bits);
    expect(snapshot(params)).toEqual(before);
  });

  it("a gradient written into run.grads is the same step as one passed in", () => {
    const a = compile(tx, params);
    const b = compile(tx, params);
    for (let t = 0; t < 5; t++) {
      a.step(gradAt(t));
      const g = flatten(b.grads).leaves.map(dataOf);
      flatten(gradAt(t)).leaves.forEach((leaf, i) => g[i]!.set(dataOf(leaf)));
      b.step();
    }
    expectBitEqual(b.params, a.params, "in place vs passed");
  });

  it("a bad state or a gradient of another shape throws GradTxError with the path", () => {
    // A state from elsewhere (e.g. parsed JSON) is not checked by the type system: compile checks it.
    const foreign = JSON.parse('[{}, { "count": 0 }]') as ReturnType<typeof tx.init>;
    expect(() => compile(tx, params, { state: foreign })).toThrow(GradTxError);
    const run = compile(tx, params);
    expect(() => run.step({ w: new Float64Array(4), b: [Float64Array.of(1)] })).toThrow(/w/);
    expect(() => run.step({ w: new Float64Array(5) })).toThrow(GradTxError);
  });
});

describe("compile: the pure path behind the same interface", () => {
  it("an optimizer without a compiled form runs pure, says why, and gives the pure numbers", () => {
    const tx = chain(clipByGlobalNorm(1), lookahead(rmsprop(0.01)));
    const params = Float64Array.of(1, 2, 3);
    const run = compile(tx, params);
    expect(run.backend).toBe("pure");
    expect(run.reason).toMatch(/no compiled form/);
    const grads = [Float64Array.of(1, -1, 2), Float64Array.of(0.5, 0, -3)];
    grads.forEach((g) => run.step(g));
    expectBitEqual(run.params, pureRun(tx, params, grads)[1]!.params, "pure fallback");
  });

  it("shapes the planner refuses run pure, with a reason", () => {
    const refused: [GradientTransformation, RegExp][] = [
      [chain(adam(0.1), clipByGlobalNorm(1)), /clipByGlobalNorm after/],
      [chain(lookahead(sgd(0.1)), scale(2)), /after a lookahead/],
      [lookahead(lookahead(sgd(0.1))), /inside a lookahead/],
      [lookahead(sgd(0.1), { innerState: "interpolate" }), /interpolate/],
      [chain(adam(0.1), sgd(0.1, { momentum: 0.9 })), /second stateful/],
      [lookahead(sgd(0.1), { alpha: "adaptive" }), /no compiled form/],
    ];
    for (const [tx, reason] of refused) {
      const run = compile(tx, Float64Array.of(1, 2));
      expect(run.backend).toBe("pure");
      expect(run.reason).toMatch(reason);
    }
  });
});

describe("compile: threads", () => {
  // Two leaves long enough to be split over the threads, and small ones that go whole.
  const lengths = [70_001, 3, 65_536, 17];
  const tree = (seed: number) =>
    Object.fromEntries(
      lengths.map((n, i) => [`l${i}`, Float64Array.from({ length: n }, (_, j) => Math.sin(seed + j * (i + 1)))]),
    );
  const tx = chain(clipByGlobalNorm(50), addDecayedWeights(0.01), lookahead(adam(0.01), { syncPeriod: 2 }));

  it("two threads compute what the pure path computes (float64, within 1e-12)", () => {
    const params = tree(0);
    const run = compile(tx, params, { threads: 2 });
    try {
      expect(run.threads).toBe(2);
      expect(run.backend).toBe("wasm");
      const grads = [1, 2, 3, 4, 5].map(tree);
      grads.forEach((g) => run.step(g));
      const want = pureRun(tx, params, grads)[4]!;
      expectWithin(values(run.params), values(want.params), (x) => 1e-12 * Math.max(1, Math.abs(x)), "params");
      expectWithin(
        stateNumbers(run.state()),
        stateNumbers(want.state),
        (x) => 1e-12 * Math.max(1, Math.abs(x)),
        "state",
      );
    } finally {
      run.dispose();
    }
  });

  it("a disposed optimizer refuses to step; bad thread counts are refused at compile", () => {
    const run = compile(tx, tree(0), { threads: 2 });
    run.dispose();
    expect(() => run.step(tree(1))).toThrow(/disposed/);
    expect(() => compile(tx, tree(0), { threads: 0 })).toThrow(/threads/);
    expect(() => compile(tx, tree(0), { threads: 1.5 })).toThrow(/threads/);
  });
});

describe("compile: many small leaves run as a few ranges", () => {
  // Leaves that can join their neighbour (float64 of even length: no padding) and leaves that
  // cannot (odd length, another dtype, another weight decay under the mask).
  const lengths = [4, 6, 2, 3, 8, 8, 5, 2, 2, 10, 1, 4];
  const tree = (seed: number) =>
    Object.fromEntries(
      lengths.map((n, i) => {
        const data = Float64Array.from({ length: n }, (_, j) => Math.cos(seed * 3 + i + j));
        return [`l${String(i).padStart(2, "0")}`, i === 7 ? Float32Array.from(data) : data];
      }),
    );
  const tx = chain(
    clipByGlobalNorm(1),
    addDecayedWeights(0.05, { mask: (path) => !path.endsWith("5") }),
    lookahead(adam(0.02), { syncPeriod: 2 }),
  );

  for (const threads of [1, 2])
    it(`computes what the pure path computes, on ${threads} thread${threads > 1 ? "s" : ""}`, () => {
      const params = tree(0);
      const run = compile(tx, params, { threads });
      try {
        const grads = [1, 2, 3, 4, 5].map(tree);
        grads.forEach((g) => run.step(g));
        const want = pureRun(tx, params, grads)[4]!;
        const tol = (x: number) => 6 * 2 ** -20 * Math.max(1, Math.abs(x)); // one float32 leaf among float64
        expectWithin(values(run.params), values(want.params), tol, "params");
        expectWithin(stateNumbers(run.state()), stateNumbers(want.state), tol, "state");
      } finally {
        run.dispose();
      }
    });
});

describe("compile: edge shapes", () => {
  it("empty leaves and a single element run compiled, on one thread and on two", () => {
    for (const threads of [1, 2]) {
      const params = { a: new Float64Array(0), b: Float64Array.of(2), c: new Float32Array(0) };
      const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 2 }));
      const run = compile(tx, params, { threads });
      try {
        const g = { a: new Float64Array(0), b: Float64Array.of(3), c: new Float32Array(0) };
        for (let t = 0; t < 3; t++) run.step(g);
        expect(run.backend).toBe("wasm");
        expectBitEqual(run.params, pureRun(tx, params, [g, g, g])[2]!.params, `${threads} thread(s)`);
      } finally {
        run.dispose();
      }
    }
  });
});

describe("compile: the promised shape of a step", () => {
  it("chain(clipByGlobalNorm, addDecayedWeights, lookahead(adam)) is one norm pass and one fused pass, the sync a variant of it", () => {
    const params = flatten({ w: new Float32Array(8), b: new Float64Array(4) });
    const program = plan(chain(clipByGlobalNorm(1), addDecayedWeights(0.1), lookahead(adam(0.01))), {
      params,
      view: () => [],
    });
    for (const dtype of ["f32", "f64"] as const) {
      const ks = kernels(program, dtype);
      expect(ks.map((k) => k.name)).toEqual([`norm0_${dtype}`, `step_${dtype}`, `sync_${dtype}`]);
      const stores = (name: string) =>
        ks
          .find((k) => k.name === name)!
          .body.flatMap((s) => (s.t === "store" ? [s.buf] : []))
          .sort();
      // Roles: 0 gradient, 1 params, 2 slow weights, 3 and 4 Adam's moments. The step writes the
      // moments and the params once each; the sync also writes the slow weights; the norm writes nothing.
      expect(stores(`step_${dtype}`)).toEqual([1, 3, 4]);
      expect(stores(`sync_${dtype}`)).toEqual([1, 2, 3, 4]);
      expect(stores(`norm0_${dtype}`)).toEqual([]);
    }
  });

  it("params and grads are live views that stay the same arrays, in one memory, at every step", () => {
    const run = compile(chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 2 })), {
      w: Float32Array.of(1, 2, 3),
      b: Float32Array.of(-1),
    });
    const before = [...flatten(run.params).leaves, ...flatten(run.grads).leaves] as Float32Array[];
    const w = before[1]!;
    const seen = Array.from(w);
    for (let t = 0; t < 4; t++) run.step({ w: Float32Array.of(1, 1, 1), b: Float32Array.of(1) });
    const after = [...flatten(run.params).leaves, ...flatten(run.grads).leaves];
    after.forEach((leaf, i) => expect(leaf).toBe(before[i]));
    expect(new Set(before.map((a) => a.buffer)).size).toBe(1);
    expect(Array.from(w)).not.toEqual(seen);
  });

  it("1,000 neighbouring leaves of 1,000 run as one kernel call per thread; padding between leaves splits the range", () => {
    const lengths = Array<number>(1000).fill(1000);
    const joinAll = () => true;
    expect(coalesce(split(lengths, 1, 65536)[0]!, lengths, joinAll)).toEqual([[0, 0, 1_000_000]]);
    expect(split(lengths, 2, 65536).map((ranges) => coalesce(ranges, lengths, joinAll))).toEqual([
      [[0, 0, 500_000]],
      [[500, 0, 500_000]],
    ]);
    const odd = [1000, 3, 1000];
    const noPaddingAfter = (a: number) => odd[a]! % 4 === 0; // float32: whole 16-byte vectors
    expect(coalesce(split(odd, 1, 65536)[0]!, odd, noPaddingAfter)).toEqual([
      [0, 0, 1003],
      [2, 0, 1000],
    ]);
  });
});
