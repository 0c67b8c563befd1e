import * as fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  donate,
  GradTxError,
  lookahead,
  masked,
  serializeState,
  sgd,
  slowParams,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, fingerprint } from "../src/laws/index.js";
import { dataOf, flatten } from "../src/core/pytree.js";
import { catalogue } from "./catalogue.js";
import { expectBitEqual, expectClose, snapshot, stateTree } from "./helpers.js";
import { copyTree } from "../src/core/state.js";

/** Both loops over the same gradients: plain, and donating the state and the params every step. */
function bothLoops(tx: GradientTransformation, params: PyTree, grads: readonly PyTree[]) {
  let p = params;
  let s = tx.init(p);
  let dp = copyTree(flatten(params));
  let ds = tx.init(dp);
  const steps: { plain: PyTree; donated: PyTree; plainState: unknown; donatedState: unknown }[] = [];
  for (const g of grads) {
    const [u, next] = tx.update(g, s, p);
    p = applyUpdates(p, u);
    s = next;
    const [du, dnext] = tx.update(g, donate(ds), dp);
    dp = applyUpdates(donate(dp), du);
    ds = dnext;
    // The donated params are rewritten in place at the next step: record a copy.
    steps.push({
      plain: p,
      donated: copyTree(flatten(dp)),
      plainState: structuredClone(s),
      donatedState: structuredClone(ds),
    });
  }
  return steps;
}

const withLookahead = catalogue.flatMap((entry) => [
  { name: entry.name, make: entry.make },
  { name: `lookahead(${entry.name})`, make: (lr: number) => lookahead(entry.make(lr), { syncPeriod: 3 }) },
  {
    name: `chain(clip, lookahead(${entry.name}), reset)`,
    make: (lr: number) => chain(clipByGlobalNorm(1), lookahead(entry.make(lr), { syncPeriod: 2, innerState: "reset" })),
  },
]);

describe("donate: the same numbers, bit for bit", () => {
  it("every catalogue optimizer, plain and in Lookahead, donated or not, over random trees", () => {
    fc.assert(
      fc.property(
        arbitraryProblem({ maxSteps: 8 }),
        fc.constantFrom(...withLookahead),
        ({ params, grads }, { name, make }) => {
          const before = grads.map(snapshot);
          bothLoops(make(0.05), params, grads).forEach((step, t) => {
            expectBitEqual(step.donated, step.plain, `${name}: params after step ${t + 1}`);
            expectBitEqual(stateTree(step.donatedState), stateTree(step.plainState), `${name}: state after ${t + 1}`);
          });
          grads.forEach((g, t) => expect(snapshot(g), `${name}: gradient ${t} untouched`).toEqual(before[t]));
        },
      ),
      { numRuns: 120, endOnFailure: true },
    );
  });
});

describe("donate: buffers are reused", () => {
  const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.01), { syncPeriod: 3 }));
  const grad = { w: Float32Array.of(3, -4, 5, 6), b: [Float32Array.of(1, 2)] };
  const leavesOf = (tree: unknown) => flatten(tree).leaves.map(dataOf);

  it("after the first steps, params, moments, slow weights and updates live in the same arrays", () => {
    let params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    let state = tx.init(params);
    const seen: FloatArray[][] = [];
    type FloatArray = Float32Array | Float64Array;
    for (let t = 0; t < 12; t++) {
      const [updates, next] = tx.update(grad, donate(state), params);
      params = applyUpdates(donate(params), updates);
      state = next;
      const [, la] = state as [unknown, { slow: PyTree; inner: [{ mu: PyTree; nu: PyTree }, unknown] }];
      const arrays = [
        ...leavesOf(params),
        ...leavesOf(la.slow),
        ...leavesOf(la.inner[0].mu),
        ...leavesOf(la.inner[0].nu),
        ...leavesOf(updates),
      ];
      seen.push(arrays);
    }
    // Updates alternate between Adam's buffer (non-sync) and Lookahead's (sync), so compare each
    // step with the same step one sync period (3 steps) later, once both buffers exist.
    for (let t = 6; t < 12; t++)
      seen[t]!.forEach((a, i) => expect(a, `array ${i} at step ${t + 1}`).toBe(seen[t - 3]![i]));
  });

  it("on WebAssembly, donated steps move those arrays into one memory, whose clones are copies", () => {
    let params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    let state = tx.init(params);
    // Step 3 is a sync, which moves the slow weights too.
    for (let t = 0; t < 3; t++) {
      const [updates, next] = tx.update(grad, donate(state), params);
      params = applyUpdates(donate(params), updates);
      state = next;
    }
    const [, la] = state as [unknown, { slow: PyTree; inner: [{ mu: PyTree; nu: PyTree }, unknown] }];
    const arrays = [...leavesOf(params), ...leavesOf(la.slow), ...leavesOf(la.inner[0].mu)];
    const memory = arrays[0]!.buffer;
    expect(memory).not.toBeInstanceOf(SharedArrayBuffer);
    arrays.forEach((a, i) => expect(a.buffer === memory, `array ${i}`).toBe(true));
    // A structured clone (a snapshot, a message to a worker) copies them: the next step does not reach it.
    const copy = structuredClone(state);
    const before = fingerprint(copy);
    tx.update(grad, donate(state), params);
    expect(fingerprint(copy)).toBe(before);
  });

  it("a state that outgrows its arena (a reset inner state every step) stays in place where it is, with the same numbers", () => {
    const reset = lookahead(adam(0.01), { syncPeriod: 1, innerState: "reset" });
    const params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    const steps = bothLoops(reset, params, new Array<PyTree>(20).fill(grad));
    steps.forEach((step, t) => {
      expectBitEqual(step.donated, step.plain, `params after step ${t + 1}`);
      expectBitEqual(stateTree(step.donatedState), stateTree(step.plainState), `state after ${t + 1}`);
    });
  });

  it("a host that cannot give an arena's memory leaves the arrays where they are, with the same numbers", () => {
    const params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    tx.update(grad, tx.init(params), params); // the scratch memory every streamed pass uses exists already
    // The build targets no DOM lib, so WebAssembly is reached through globalThis.
    const wasm = (globalThis as unknown as { WebAssembly: { Memory: (...args: unknown[]) => unknown } }).WebAssembly;
    const memory = vi.spyOn(wasm, "Memory").mockImplementation(() => {
      throw new RangeError("out of memory");
    });
    try {
      const steps = bothLoops(tx, params, [grad, grad, grad, grad]);
      steps.forEach((step, t) => {
        expectBitEqual(step.donated, step.plain, `params after step ${t + 1}`);
        expectBitEqual(stateTree(step.donatedState), stateTree(step.plainState), `state after ${t + 1}`);
      });
      expect(memory).toHaveBeenCalled();
    } finally {
      memory.mockRestore();
    }
  });

  it("a stateless optimizer's donated loop asks for no memory: its updates go into the last step's arrays", () => {
    const plain = sgd(0.1);
    let params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    let state = plain.init(params);
    plain.update(grad, plain.init(params), params); // the scratch memory every streamed pass uses exists already
    const wasm = (globalThis as unknown as { WebAssembly: { Memory: (...args: unknown[]) => unknown } }).WebAssembly;
    const memory = vi.spyOn(wasm, "Memory");
    try {
      const seen: ReturnType<typeof leavesOf>[] = [];
      for (let t = 0; t < 4; t++) {
        const [updates, next] = plain.update(grad, donate(state), params);
        seen.push(leavesOf(updates));
        params = applyUpdates(donate(params), updates);
        state = next;
      }
      expect(memory).not.toHaveBeenCalled();
      seen.slice(1).forEach((arrays, t) => arrays.forEach((a, i) => expect(a, `step ${t + 2}`).toBe(seen[0]![i])));
    } finally {
      memory.mockRestore();
    }
  });

  it("a donated leaf whose block sums outgrow a streamed table's room runs in several tables, with the same numbers", () => {
    // 2e6 elements, 489 blocks: the clip's norm over them has more block sums than one table of
    // a streamed pass holds (a chunk's and one per segment: 260), and every buffer of the leaf
    // lives in the arena after the first step.
    const n = 2_000_000;
    const leaf = (seed: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(seed + j));
    const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.01), { syncPeriod: 2 })) as GradientTransformation;
    const steps = bothLoops(tx, { w: leaf(0) }, [{ w: leaf(1) }, { w: leaf(2) }, { w: leaf(3) }]);
    steps.forEach((step, t) => expectBitEqual(step.donated, step.plain, `params after step ${t + 1}`));
  });

  it("a donated step reads its gradient from its memory, but gives back a leaf it leaves alone as the caller's array", () => {
    // The kernels read a copy of the gradient in the state's memory; what comes out unchanged
    // (here the leaf the mask leaves out) is the caller's own array, and a barrier after the
    // kernels keeps what it was given: the next steps' copies do not reach it.
    const grads = [1, 2, 3].map((t) => ({ w: Float32Array.of(t, -t), b: Float32Array.of(t, 2 * t, 3 * t) }));
    const loop = (donated: boolean) => {
      const seen: PyTree[] = [];
      const remember: GradientTransformation = { init: () => ({}), update: (u, s) => (seen.push(u), [u, s]) };
      const tx = chain(
        masked(sgd(0.1, { momentum: 0.9 }), (path) => path === "w"),
        remember,
        sgd(1, { momentum: 0.5 }),
      ) as GradientTransformation;
      let params: PyTree = { w: Float32Array.of(1, 2), b: Float32Array.of(3, 4, 5) };
      let state = tx.init(params);
      for (const g of grads) {
        const [u, next]: readonly [PyTree, unknown] = tx.update(g, donated ? donate(state) : state, params);
        params = applyUpdates(donated ? donate(params) : params, u);
        state = next;
      }
      return seen as { w: Float32Array; b: Float32Array }[];
    };
    const donated = loop(true);
    donated.forEach((got, t) => expect(got.b, `step ${t + 1}: the leaf the mask leaves out`).toBe(grads[t]!.b));
    expect(snapshot(donated as unknown as PyTree)).toEqual(snapshot(loop(false) as unknown as PyTree));
  });

  it("an older state that shares the slow weights keeps them when a newer one is donated", () => {
    const params = { w: Float32Array.of(1, 2, 3, 4), b: [Float32Array.of(0, 0)] };
    const s0 = tx.init(params);
    const [u1, s1] = tx.update(grad, s0, params); // not donated: s1 shares s0's slow weights
    const p1 = applyUpdates(params, u1);
    const kept = snapshot(slowParams(s1));
    const [u2, s2] = tx.update(grad, donate(s1), p1);
    const [, s3] = tx.update(grad, donate(s2), applyUpdates(p1, u2)); // step 3: a sync
    expect(snapshot(slowParams(s0))).toEqual(kept);
    expect(snapshot(slowParams(s3))).not.toEqual(kept);
  });
});

describe("donate: a spent value cannot be used again", () => {
  const tx = chain(clipByGlobalNorm(1), lookahead(sgd(0.1, { momentum: 0.9 })));
  const params = () => ({ w: Float64Array.of(1, 2) });
  const g = { w: Float64Array.of(0.5, -0.5) };

  it("a donated state throws BAD_STATE in update, serializeState, slowParams and donate", () => {
    const p = params();
    const s = tx.init(p);
    tx.update(g, donate(s), p);
    for (const use of [() => tx.update(g, s, p), () => serializeState(s), () => slowParams(s), () => donate(s)]) {
      expect(use).toThrow(GradTxError);
      expect(use).toThrow(/donated to an earlier call/);
    }
  });

  it("donated params throw BAD_STATE when applied to or read again", () => {
    const p = params();
    const [u] = tx.update(g, tx.init(p), p);
    applyUpdates(donate(p), u);
    expect(() => applyUpdates(p, u)).toThrow(/donated/);
    // A Lookahead sync reads the params.
    const everyStep = lookahead(sgd(0.1), { syncPeriod: 1 });
    expect(() => everyStep.update(g, everyStep.init(params()), p)).toThrow(/donated/);
  });

  it("a tree that is a single leaf comes back as the result, usable", () => {
    let p = Float64Array.of(1, 2);
    const opt = lookahead(sgd(0.1), { syncPeriod: 1 });
    let s = opt.init(p);
    for (let t = 0; t < 3; t++) {
      const [u, next] = opt.update(g.w, donate(s), p);
      p = applyUpdates(donate(p), u);
      s = next;
    }
    // Each step moves by alpha * lr * g = 0.5 * 0.1 * (+-0.5): 0.025, three times.
    expectClose(p, Float64Array.of(1 - 0.075, 2 + 0.075), 1e-15, "three steps of sgd(0.1) at alpha 0.5");
  });

  it("a state that was not donated stays usable, and a stateless one donated is spent like any other", () => {
    const p = params();
    const s = tx.init(p);
    const [first, next1] = tx.update(g, s, p);
    // The same state again: the same step, bit for bit, and s is untouched by either call.
    const [again, next2] = tx.update(g, s, p);
    expectBitEqual(again, first, "updates from the reused state");
    expectBitEqual(stateTree(next2), stateTree(next1), "next state from the reused state");
    // By hand: ||g|| = sqrt(0.5) < 1, so no clip; the trace is g and sgd(0.1) gives -0.1 g.
    expectBitEqual(first, { w: Float64Array.of(-0.05, 0.05) }, "first step");
    // A donated stateless state (its record of shapes) gives the numbers of one that was not
    // donated: ||g|| = sqrt(0.5), so clipByGlobalNorm(0.5) scales g by 0.5 / sqrt(0.5).
    const clipTx = clipByGlobalNorm(0.5);
    const empty = clipTx.init(p);
    const [plain] = clipTx.update(g, clipTx.init(p));
    const [donated, after] = clipTx.update(g, donate(empty));
    expectBitEqual(donated, plain, "clip with a donated empty state");
    expectClose(plain, { w: Float64Array.of(0.5 / Math.SQRT2, -0.5 / Math.SQRT2) }, 1e-15, "clip by hand");
    // It is spent, as every donated state is; the state the call returned carries on.
    expect(() => clipTx.update(g, empty)).toThrow(/donated to an earlier call/);
    const [later] = clipTx.update(g, after);
    expectBitEqual(later, plain, "the state after the donated one");
  });
});
