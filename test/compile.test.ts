/** compile: the executor's plan on resident buffers, with the pure path's bits on any number of threads. */
import * as fc from "fast-check";
import * as gradtx from "../src/index.js";
import { describe, expect, it } from "vitest";
import {
  adam,
  addDecayedWeights,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  deserializeState,
  GradTxError,
  lookahead,
  serializeState,
  sgd,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem } from "../src/laws/index.js";
import { flatten, dataOf } from "../src/core/pytree.js";
import { catalogue } from "./catalogue.js";
import { expectBitEqual, snapshot, stateTree, values } from "./helpers.js";

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

const entries = catalogue.flatMap((entry) => [
  entry,
  {
    ...entry,
    name: `chain(clip, decay, lookahead(${entry.name}))`,
    make: (lr: number) =>
      chain(clipByGlobalNorm(1), addDecayedWeights(0.01), lookahead(entry.make(lr), { syncPeriod: 2 })),
  },
  {
    ...entry,
    name: `lookahead(${entry.name}), reset`,
    make: (lr: number) => lookahead(entry.make(lr), { syncPeriod: 3, innerState: "reset" }),
  },
]);

describe("compile: the same bits as the pure path", () => {
  it("every catalogue optimizer, plain and in Lookahead, over random trees of float32, float64 and ndarray leaves", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), fc.constantFrom(...entries), ({ params, grads }, entry) => {
        const tx = entry.make(entry.lr);
        const run = compile(tx, params);
        pureRun(tx, params, grads).forEach((want, t) => {
          run.step(grads[t]!);
          expectBitEqual(run.params, want.params, `${entry.name}: params after step ${t + 1}`);
          expectBitEqual(stateTree(run.state()), stateTree(want.state), `${entry.name}: state after ${t + 1}`);
        });
      }),
      { numRuns: 80 },
    );
  });

  it("runs every catalogue optimizer, saying which parts run as plain TypeScript", () => {
    for (const entry of entries) {
      const run = compile(entry.make(0.1), Float64Array.of(1, 2));
      expect(run.backend, entry.name).toBe("wasm");
      if (run.reason !== undefined) expect(run.reason, entry.name).toMatch(/plain TypeScript/);
    }
    expect(compile(chain(clipByGlobalNorm(1), lookahead(adam(0.1))), Float64Array.of(1)).reason).toBeUndefined();
  });

  it("names each barrier in run.reason: gradtx's own by what they are, a user's plain object generically", () => {
    const own: GradientTransformation<Record<string, never>> = { init: () => ({}), update: (u) => [u, {}] };
    const tx = chain(
      clipByGlobalNorm(1),
      gradtx.scaleByLbfgs(),
      gradtx.stateless((u) => u),
      own,
      sgd(0.1),
    );
    expect(compile(tx, Float64Array.of(1, 2)).reason).toBe(
      "runs as plain TypeScript between the compiled passes: ScaleByLbfgs, stateless, a transformation that is not elementwise",
    );
  });

  it("a user's own transformation is a barrier: the kernels around it compile, and the views stay live", () => {
    // Doubles the updates: u' = 2 u.
    const double: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: (u) => [
        flatten(u).leaves.length === 1 ? Float64Array.from(dataOf(flatten(u).leaves[0]!), (x) => 2 * x) : u,
        {},
      ],
    };
    const tx = chain(clipByGlobalNorm(1), double, lookahead(sgd(0.1), { syncPeriod: 2 }));
    const params = Float64Array.of(1, -2, 3);
    const run = compile(tx, params);
    expect(run.reason).toMatch(/plain TypeScript/);
    const view = run.params as Float64Array;
    const grads = [Float64Array.of(3, 0, 4), Float64Array.of(0.1, 0.2, 0.3), Float64Array.of(1, 1, 1)];
    const want = pureRun(tx, params, grads);
    grads.forEach((g, t) => {
      run.step(g);
      expect(run.params).toBe(view);
      expectBitEqual(view, want[t]!.params, `params after step ${t + 1}`);
    });
    // By hand, step 1: the clip scales (3, 0, 4) to (0.6, 0, 0.8); doubled (1.2, 0, 1.6); sgd(0.1)
    // gives -(0.12, 0, 0.16), not a sync (k 2): params (0.88, -2, 2.84).
    expect(Array.from(want[0]!.params as Float64Array)).toEqual([1 - 0.12, -2, 3 - 0.16]);
  });
});

describe("compile: state in and out", () => {
  const params = { w: Float64Array.of(0.5, -1, 2, 3, -4), b: [Float32Array.of(1)] };
  const gradAt = (t: number) => ({
    w: Float64Array.from([1, 2, 3, 4, 5], (x) => Math.sin(x * (t + 1))),
    b: [Float32Array.of(t % 3)],
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

  it("compile continues from a pure state, bit for bit", () => {
    const want = pureRun(tx, params, [0, 1, 2, 3, 4, 5, 6, 7].map(gradAt));
    const run = compile(tx, want[4]!.params, { state: want[4]!.state });
    for (let t = 5; t < 8; t++) run.step(gradAt(t));
    expectBitEqual(run.params, want[7]!.params, "params after resuming");
  });

  it("a snapshot shares nothing with the buffers, and compile copies its params", () => {
    const before = snapshot(params);
    const run = compile(tx, params);
    run.step(gradAt(0));
    const state = run.state();
    const bits = values(stateTree(state));
    run.step(gradAt(1));
    expect(values(stateTree(state))).toEqual(bits);
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
    expect(() => run.step({ w: new Float64Array(4), b: [Float32Array.of(1)] })).toThrow(/w/);
    expect(() => run.step({ w: new Float64Array(5) })).toThrow(GradTxError);
  });
});

describe("compile: threads", () => {
  // Leaves long enough to be split over the threads, and small ones that go whole.
  const lengths = [70_001, 3, 65_536, 17];
  const tree = (seed: number) =>
    Object.fromEntries(
      lengths.map((n, i) => [
        `l${i}`,
        i === 2
          ? Float32Array.from({ length: n }, (_, j) => Math.sin(seed + j * (i + 1)))
          : Float64Array.from({ length: n }, (_, j) => Math.sin(seed + j * (i + 1))),
      ]),
    );
  const tx = chain(clipByGlobalNorm(50), addDecayedWeights(0.01), lookahead(adam(0.01), { syncPeriod: 2 }));

  it("two threads give the bits of one thread and of the pure path", () => {
    const params = tree(0);
    const grads = [1, 2, 3, 4, 5].map(tree);
    const want = pureRun(tx, params, grads);
    for (const threads of [1, 2]) {
      const run = compile(tx, params, { threads });
      try {
        expect(run.threads).toBe(threads);
        grads.forEach((g, t) => {
          run.step(g);
          expectBitEqual(run.params, want[t]!.params, `${threads} threads: params after step ${t + 1}`);
        });
        expectBitEqual(stateTree(run.state()), stateTree(want[4]!.state), `${threads} threads: state`);
      } finally {
        run.dispose();
      }
    }
  });

  it("leaves with scalars of their own (lamb's trust ratios), split over the threads or not, keep the pure path's bits", () => {
    const lambTx = lookahead(gradtx.lamb(0.01, { weightDecay: 0.1 }), { syncPeriod: 2 });
    // Float32 all through, so that one call takes them all: small ones and ones to split, in turn.
    const mixed = (seed: number) =>
      Object.fromEntries(
        [17, 70_001, 3, 65_536].map((n, i) => [
          `l${i}`,
          Float32Array.from({ length: n }, (_, j) => Math.sin(seed + j * (i + 1))),
        ]),
      );
    const params = mixed(0);
    const grads = [1, 2, 3].map(mixed);
    const want = pureRun(lambTx, params, grads);
    for (const threads of [1, 2]) {
      const run = compile(lambTx, params, { threads });
      try {
        grads.forEach((g, t) => {
          run.step(g);
          expectBitEqual(run.params, want[t]!.params, `${threads} threads: params after step ${t + 1}`);
        });
      } finally {
        run.dispose();
      }
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
