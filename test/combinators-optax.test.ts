/**
 * The combinators ported from optax's combine, wrappers, transform, base, freezing,
 * conditionality and monitoring modules: setToZero, freeze, stateless, statelessWithTreeMap,
 * applyEvery, namedChain, conditionallyTransform, conditionallyMask, snapshot, monitor. Expected
 * values are optax's tests' (cited per case) or worked out by hand next to them; laws compare a
 * combinator with what it must reduce to.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyEvery,
  chain,
  clipByGlobalNorm,
  lookahead,
  namedChain,
  compile,
  ema,
  monitor,
  conditionallyMask,
  conditionallyTransform,
  deserializeState,
  freeze,
  identity,
  scale,
  serializeState,
  setToZero,
  sgd,
  snapshot,
  stateless,
  statelessWithTreeMap,
  trace,
  tree,
  zeroNans,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, checkTransformationLaws, runProblem } from "../src/laws/index.js";
import { expectBitEqual, values } from "./helpers.js";

const badState = (path?: string) =>
  expect.objectContaining({ code: "BAD_STATE", ...(path === undefined ? {} : { path }) });

/** Runs `tx` for the given grads from `params` (applying every update) and returns every update. */
function updatesOf(tx: GradientTransformation, params: PyTree, grads: readonly PyTree[]): PyTree[] {
  let p = params;
  let s = tx.init(p);
  const out: PyTree[] = [];
  for (const g of grads) {
    const [u, next] = tx.update(g, s, p);
    out.push(u);
    p = tree.add(p, u);
    s = next;
  }
  return out;
}

/** A state through a checkpoint: serialized, then read back against a fresh init. */
function roundTrip<S>(tx: GradientTransformation<S>, params: PyTree, state: S): S {
  return deserializeState(serializeState(state), tx.init(params));
}

describe("setToZero", () => {
  it("maps every leaf to zeros of its shape, dtype and kind (optax base_test: set_to_zero)", () => {
    const grads = {
      a: ndarray(new Float64Array(12).fill(1), [3, 4]),
      b: Float64Array.of(1),
      c: Float32Array.of(1, NaN, -Infinity),
    };
    const tx = setToZero();
    const [u] = tx.update(grads, tx.init(grads)) as [typeof grads, unknown];
    expect(u.a.shape).toEqual([3, 4]);
    expect(Array.from(u.a.data)).toEqual(new Array(12).fill(0));
    expect(u.b).toEqual(Float64Array.of(0));
    expect(u.c).toEqual(Float32Array.of(0, 0, 0));
    expect(Object.is(u.c[1], 0)).toBe(true); // +0, not -0 or NaN
  });

  it("leaves the params where they are, compiled too (it is a kernel: nothing runs as plain TypeScript)", () => {
    const run = compile(chain(sgd(0.1), setToZero()), Float32Array.of(1, 2, 3));
    run.grads.set([4, 5, 6]);
    run.step();
    expect(Array.from(run.params)).toEqual([1, 2, 3]);
    expect(run.reason).toBeUndefined();
    run.dispose();
  });

  it("refuses updates of another shape than the params it was built for", () => {
    const tx = setToZero();
    expect(() => tx.update(Float64Array.of(1, 2), tx.init(Float64Array.of(1)))).toThrow(
      expect.objectContaining({ code: "SHAPE_MISMATCH" }),
    );
  });
});

describe("freeze", () => {
  // optax transforms/_freezing_test.py: FreezeTest.test_freeze_updates
  const params = {
    layer1: { w: ndarray(Float64Array.of(1, 2), [1, 2]), b: Float64Array.of(3) },
    layer2: { w: ndarray(Float64Array.of(4, 5), [1, 2]) },
  };
  const grads = {
    layer1: { w: ndarray(Float64Array.of(0.1, 0.2), [1, 2]), b: Float64Array.of(0.3) },
    layer2: { w: ndarray(Float64Array.of(0.4, 0.5), [1, 2]) },
  };
  it.each<[string, Parameters<typeof freeze>[0], number[]]>([
    ["nested_partial", { layer1: { w: true, b: false }, layer2: { w: false } }, [0.3, 0, 0, 0.4, 0.5]],
    ["freeze_all", true, [0, 0, 0, 0, 0]],
    ["freeze_none", false, [0.3, 0.1, 0.2, 0.4, 0.5]],
  ])("%s: zeros the updates of the frozen leaves (leaves in canonical order: b before w)", (_, mask, expected) => {
    const tx = freeze(mask);
    const state = tx.init(params);
    const [u, next] = tx.update(grads, state, params);
    expect(values(u)).toEqual(expected);
    expect(next).toEqual(state);
  });

  it("passes the unfrozen leaves through as the very same arrays", () => {
    const tx = freeze({ layer1: true, layer2: false });
    const [u] = tx.update(grads, tx.init(params), params) as [typeof grads, unknown];
    expect(u.layer2.w).toBe(grads.layer2.w);
  });

  it("refuses a mask that does not fit the params (optax: test_bad_structure_raises)", () => {
    const tx = freeze({ layer1: { w: true } });
    expect(() => tx.init(params)).toThrow(expect.objectContaining({ code: "STRUCTURE_MISMATCH" }));
  });

  it("laws: freeze(true) gives zeros, freeze(false) is the identity, on any problem", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 3 }), (problem) => {
        const frozen = runProblem(freeze(true), problem);
        for (const u of frozen.updates) expect(values(u).every((x) => x === 0)).toBe(true);
        const open = runProblem(freeze(false), problem);
        const same = runProblem(identity(), problem);
        open.updates.forEach((u, i) => expectBitEqual(u, same.updates[i]!));
      }),
      { numRuns: 20 },
    );
  });

  it("keeps the transformation laws, compiles as a kernel, and checks its state with paths", () => {
    checkTransformationLaws(
      freeze((path) => path.length % 2 === 0),
      { numRuns: 10 },
    );
    const tx = chain(sgd(0.5), freeze({ a: true, b: false }));
    const p = { a: Float64Array.of(1), b: Float64Array.of(1) };
    const run = compile(tx, p);
    run.step({ a: Float64Array.of(2), b: Float64Array.of(2) });
    expect(values(run.params)).toEqual([1, 0]); // a frozen; b = 1 - 0.5 * 2
    expect(run.reason).toBeUndefined();
    run.dispose();
    const [s0, s1] = tx.init(p);
    expect(() => tx.update(p, [s0, { inner: {} }] as never, p)).toThrow(badState("[1].inner"));
    expect(roundTrip(tx, p, [s0, s1])).toEqual([s0, s1]);
  });
});

describe("stateless and statelessWithTreeMap", () => {
  // optax _src/base_test.py: StatelessTest, StatelessWithTreeMapTest
  const params = { a: ndarray(new Float64Array(2), [1, 2]), b: Float64Array.of(1) };
  const updates = { a: ndarray(Float64Array.of(1, 1), [1, 2]), b: Float64Array.of(2) };
  const weightDecay = (u: PyTree, p: PyTree | undefined) => (p === undefined ? u : tree.addScale(u, 0.1, p));

  it("stateless: g + 0.1 p gives a = [1, 1], b = [2.1]", () => {
    const tx = stateless(weightDecay);
    const [u] = tx.update(updates, tx.init(params), params);
    expect(values(u)).toEqual([1, 1, 2 + 0.1 * 1]);
  });

  it("stateless without params: fn gets undefined (optax: test_stateless_no_params, 3 * 2 = 6)", () => {
    const g = { linear: ndarray(new Float64Array(15).fill(3), [5, 3]) };
    const tx = stateless((u, p) => (expect(p).toBeUndefined(), tree.scale(2, u)));
    const [u] = tx.update(g, tx.init(g));
    expect(values(u)).toEqual(new Array(15).fill(6));
  });

  it("statelessWithTreeMap: the same, leaf by leaf, with and without params", () => {
    const tx = statelessWithTreeMap((u, p) => (p === undefined ? tree.scale(2, u) : tree.addScale(u, 0.1, p)));
    const [u] = tx.update(updates, tx.init(params), params);
    expect(values(u)).toEqual([1, 1, 2 + 0.1 * 1]);
    const [v] = tx.update(updates, tx.init(params));
    expect(values(v)).toEqual([2, 2, 4]);
  });

  it("runs as a barrier between fused kernels, in a compiled loop too", () => {
    const opt = chain(
      scale(2),
      stateless((u) => tree.map((x) => (x as Float64Array).map(Math.abs), u)),
      sgd(0.5),
    );
    const p = Float64Array.of(1, -1);
    const [u] = opt.update(Float64Array.of(-3, 4), opt.init(p), p);
    expect(Array.from(u as Float64Array)).toEqual([-3, -4]); // -0.5 * |2 g|
    const run = compile(opt, p);
    run.grads.set([-3, 4]);
    run.step();
    expect(Array.from(run.params)).toEqual([-2, -5]);
    run.dispose();
  });

  it("refuses what is not a function, a result of another structure, and a state of another transformation", () => {
    expect(() => stateless(1 as never)).toThrow(expect.objectContaining({ code: "INVALID_HYPERPARAMETER" }));
    expect(() => statelessWithTreeMap(null as never)).toThrow(/statelessWithTreeMap: fn must be a function/);
    const bad = stateless(() => ({ other: Float64Array.of(1) }));
    expect(() => bad.update(updates, bad.init(params), params)).toThrow(
      expect.objectContaining({ code: "STRUCTURE_MISMATCH" }),
    );
    const tx = stateless(weightDecay);
    expect(() => tx.update(updates, {} as never, params)).toThrow(badState());
    expect(() => tx.update(Float64Array.of(1), tx.init(params))).toThrow(
      expect.objectContaining({ code: "STRUCTURE_MISMATCH" }),
    );
  });

  it("checkpoints: the state round-trips", () => {
    const tx = stateless(weightDecay);
    const state = tx.init(params);
    expect(roundTrip(tx, params, state)).toEqual(state);
  });
});

describe("applyEvery", () => {
  it("every k steps lands where sgd lands, and emits zeros between (optax _src/transform_test.py: test_apply_every)", () => {
    // optax's setUp: params ([1, 2], [3, 4]), a constant gradient ([500, 5], [300, 3]), LR 1e-2, k 4.
    const k = 4;
    const lr = 1e-2;
    const params = [Float64Array.of(1, 2), Float64Array.of(3, 4)];
    const g = [Float64Array.of(500, 5), Float64Array.of(300, 3)];
    const every = chain(applyEvery(k), trace(0), scale(-lr));
    let p: PyTree = params as PyTree;
    let s = every.init(p);
    for (let i = 0; i < 12; i++) {
      const [u, next] = every.update(g, s, p);
      p = tree.add(p as PyTree, u);
      s = next;
      const n = Math.floor((i + 1) / k) * k; // gradients applied so far
      if (i % k === k - 1) expect(values(u)).toEqual(values(g).map((x) => -lr * k * x));
      else expect(values(u).every((x) => x === 0)).toBe(true); // -lr * 0 is -0, in optax too
      // sgd with the sums applied: params - lr n g (within the roundings of the two orders).
      values(p).forEach((x, j) => expect(x).toBeCloseTo(values(params)[j]! - lr * n * values(g)[j]!, 9));
    }
  });

  it("sums by hand: 1 + 2 + 4 at the third step, a new round from 8, in float32", () => {
    const out = updatesOf(
      applyEvery(3),
      Float32Array.of(0),
      [1, 2, 4, 8, 16, 32].map((x) => Float32Array.of(x)),
    );
    expect(out.map((u) => (u as Float32Array)[0])).toEqual([0, 0, 7, 0, 0, 56]);
    expect(out[2]).toBeInstanceOf(Float32Array);
  });

  it("law: applyEvery(1) is the identity (optax's default k)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 4 }), (problem) => {
        const every = runProblem(applyEvery(), problem);
        const same = runProblem(identity(), problem);
        every.updates.forEach((u, i) => expectBitEqual(u, same.updates[i]!));
      }),
      { numRuns: 20 },
    );
  });

  it("a NaN of one round does not reach the next (where optax's 0 * NaN would carry it)", () => {
    const out = updatesOf(
      applyEvery(2),
      Float64Array.of(0),
      [NaN, 1, 2, 3].map((x) => Float64Array.of(x)),
    );
    expect(out.map((u) => (u as Float64Array)[0])).toEqual([0, NaN, 0, 5]);
  });

  it("law: over k steps the updates sum to the gradients' sum", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 1, maxLength: 12 }),
        (k, gs) => {
          const rounds = Math.floor(gs.length / k) * k;
          const out = updatesOf(
            applyEvery(k),
            Float64Array.of(0),
            gs.map((x) => Float64Array.of(x)),
          );
          const emitted = out.reduce((acc, u) => acc + (u as Float64Array)[0]!, 0);
          expect(emitted).toBe(gs.slice(0, rounds).reduce((a, b) => a + b, 0));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("keeps the transformation laws, compiles as one kernel, and its state checkpoints", () => {
    checkTransformationLaws(applyEvery(2), { numRuns: 10 });
    const run = compile(chain(applyEvery(2), sgd(0.5)), Float64Array.of(1));
    run.step(Float64Array.of(2));
    run.step(Float64Array.of(4));
    expect(Array.from(run.params)).toEqual([1 - 0.5 * 6]);
    expect(run.reason).toBeUndefined();
    run.dispose();
    const tx = applyEvery(3);
    const [, state] = tx.update(Float64Array.of(5), tx.init(Float64Array.of(0)));
    expect(roundTrip(tx, Float64Array.of(0), state)).toEqual({ count: 1, gradAcc: Float64Array.of(5) });
  });

  it("refuses a k that is not an integer >= 1, and a state without its sum, naming the path", () => {
    for (const k of [0, 1.5, NaN, -1, "2"])
      expect(() => applyEvery(k as never)).toThrow(expect.objectContaining({ code: "INVALID_HYPERPARAMETER" }));
    const tx = chain(sgd(0.1), applyEvery(2));
    const p = Float64Array.of(1);
    const [s0, s1] = tx.init(p);
    expect(() => tx.update(p, [s0, { count: 0 }] as never, p)).toThrow(badState("[1]"));
    expect(() => tx.update(p, [s0, { ...s1, gradAcc: Float64Array.of(1, 2) }], p)).toThrow(
      expect.objectContaining({ code: "SHAPE_MISMATCH" }),
    );
  });
});

describe("namedChain", () => {
  it("keys the state by name and hands extra to every part (optax transforms/_combining_test.py: test_named_chain)", () => {
    // optax's scale_by_loss divides the updates by the loss: 0.1 * 1 / 0.1 = 1.
    const scaleByLoss: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: (u, st, _p, extra) => [tree.scale(1 / extra!.value!, u), st],
    };
    const tx = namedChain(["scale", scale(0.1)], ["scaleLoss", scaleByLoss]);
    const params = { a: new Float64Array(4).fill(1) };
    const state = tx.init(params);
    expect(Object.keys(state)).toEqual(["scale", "scaleLoss"]);
    const [u, next] = tx.update(params, state, params, { value: 0.1 });
    for (const x of values(u)) expect(x).toBeCloseTo(1, 12);
    expect(Object.keys(next)).toEqual(["scale", "scaleLoss"]);
  });

  it("law: namedChain gives chain's updates bit for bit, and chain's states under the names", () => {
    const parts = [clipByGlobalNorm(1), adam(0.1), trace(0.5)] as const;
    const named = namedChain(["clip", parts[0]], ["adam", parts[1]], ["momentum", parts[2]]);
    const plain = chain(...parts);
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 4 }), (problem) => {
        const a = runProblem(named, problem);
        const b = runProblem(plain, problem);
        a.updates.forEach((u, i) => expectBitEqual(u, b.updates[i]!));
        const [clip, opt, momentum] = b.states[b.states.length - 1] as unknown[];
        expect(a.states[a.states.length - 1]).toEqual({ clip, adam: opt, momentum });
      }),
      { numRuns: 20 },
    );
  });

  it("refuses pairs that are not [name, transformation], repeated names, and a lookahead before the end", () => {
    const refused = (message: RegExp) =>
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) });
    expect(() => namedChain(["a", sgd(0.1)], [1, sgd(0.1)] as never)).toThrow(refused(/argument 1 must be a \[name/));
    expect(() => namedChain(["a", sgd(0.1)], ["a", scale(2)])).toThrow(refused(/"a" is given twice/));
    expect(() => namedChain(["a", {} as never])).toThrow(refused(/argument 0: expected a GradientTransformation/));
    expect(() => namedChain(["slow", lookahead(sgd(0.1))], ["after", scale(2)])).toThrow(refused(/must be the last/));
  });

  it("checks its state: a missing name, and a broken part, are BAD_STATE with their paths", () => {
    const tx = chain(scale(1), namedChain(["opt", adam(0.1)], ["half", scale(0.5)]));
    const p = Float64Array.of(1);
    const [s0, s1] = tx.init(p);
    expect(() => tx.update(p, [s0, { opt: s1.opt }] as never, p)).toThrow(badState("[1]"));
    expect(() => tx.update(p, [s0, { ...s1, opt: [{}, s1.opt[1]] }] as never, p)).toThrow(badState("[1].opt[0]"));
  });

  it("compiles as chain does, and its state checkpoints", () => {
    const tx = namedChain(["clip", clipByGlobalNorm(1)], ["opt", sgd(0.5)]);
    const run = compile(tx, Float64Array.of(1));
    run.step(Float64Array.of(4));
    expect(Array.from(run.params)).toEqual([0.5]); // 1 - 0.5 * clip(4) = 1 - 0.5
    expect(run.reason).toBeUndefined();
    run.dispose();
    const [, state] = tx.update(Float64Array.of(4), tx.init(Float64Array.of(1)), Float64Array.of(1));
    expect(roundTrip(tx, Float64Array.of(1), state)).toEqual(state);
  });
});

describe("conditionallyTransform and conditionallyMask", () => {
  // optax transforms/_conditionality_test.py: ConditionallyTransformTest, ConditionallyMaskTest.
  const NUM_STEPS = 3;
  const shouldUpdate = (step: number) => step < NUM_STEPS;
  const run = (tx: GradientTransformation, grads: readonly number[]) => {
    let state = tx.init(Float64Array.of(0));
    return grads.map((g) => {
      const [u, next] = tx.update(Float64Array.of(g), state);
      state = next;
      return { u: (u as Float64Array)[0], state: next as { step: number; innerState: unknown } };
    });
  };

  it("stateless inner: scale(2) for 3 steps, then the updates as they are, or zeros", () => {
    const ones = new Array<number>(8).fill(1);
    expect(run(conditionallyTransform(scale(2), shouldUpdate), ones).map((r) => r.u)).toEqual([2, 2, 2, 1, 1, 1, 1, 1]);
    expect(run(conditionallyMask(scale(2), shouldUpdate), ones).map((r) => r.u)).toEqual([2, 2, 2, 0, 0, 0, 0, 0]);
  });

  it("stateful inner: zeroNans' flag moves only while it runs", () => {
    const grads = [NaN, NaN, 1, NaN, NaN, NaN, NaN, NaN];
    const foundNan = (r: { state: { innerState: unknown } }) =>
      (r.state.innerState as { foundNan: boolean[] }).foundNan[0];
    const t = run(conditionallyTransform(zeroNans(), shouldUpdate), grads);
    expect(t.map((r) => r.u)).toEqual([0, 0, 1, NaN, NaN, NaN, NaN, NaN]); // passed through: NaN
    expect(t.map(foundNan)).toEqual([true, true, false, false, false, false, false, false]);
    const m = run(conditionallyMask(zeroNans(), shouldUpdate), grads);
    expect(m.map((r) => r.u)).toEqual([0, 0, 1, 0, 0, 0, 0, 0]);
    expect(m.map(foundNan)).toEqual([true, true, false, false, false, false, false, false]);
    expect(m.map((r) => r.state.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("forwards extra to the condition only with forwardExtraArgs, and always to the inner transformation", () => {
    const seen: unknown[][] = [];
    const cond = (...args: unknown[]) => (seen.push(args), true);
    const g = Float64Array.of(1);
    const plain = conditionallyMask(scale(1), cond);
    plain.update(g, plain.init(g), undefined, { value: 3 });
    const forwarded = conditionallyMask(scale(1), cond, { forwardExtraArgs: true });
    forwarded.update(g, forwarded.init(g), undefined, { value: 3 });
    forwarded.update(g, forwarded.init(g));
    expect(seen).toEqual([[0], [0, { value: 3 }], [0, {}]]);
  });

  it("law: an always-true condition is the inner transformation, bit for bit, states included", () => {
    const inner = chain(clipByGlobalNorm(1), adam(0.1));
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 4 }), fc.boolean(), (problem, mask) => {
        const tx = (mask ? conditionallyMask : conditionallyTransform)(inner, () => true);
        const a = runProblem(tx, problem);
        const b = runProblem(inner, problem);
        a.updates.forEach((u, i) => expectBitEqual(u, b.updates[i]!));
        a.states.forEach((st, i) => expect((st as { innerState: unknown }).innerState).toEqual(b.states[i]));
      }),
      { numRuns: 20 },
    );
  });

  it("law: an always-false condition is the identity (transform) or zeros (mask), and the inner state stands still", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 3 }), (problem) => {
        const t = runProblem(
          conditionallyTransform(adam(0.1), () => false),
          problem,
        );
        const same = runProblem(identity(), problem);
        t.updates.forEach((u, i) => expectBitEqual(u, same.updates[i]!));
        const m = runProblem(
          conditionallyMask(adam(0.1), () => false),
          problem,
        );
        for (const u of m.updates) expect(values(u).every((x) => x === 0)).toBe(true);
        const init = adam(0.1).init(problem.params);
        for (const st of m.states) expect((st as { innerState: unknown }).innerState).toEqual(init);
      }),
      { numRuns: 20 },
    );
  });

  it("keeps the transformation laws, fuses and compiles (no plain TypeScript), and checkpoints", () => {
    const every2 = (step: number) => step % 2 === 0;
    checkTransformationLaws(conditionallyMask(adam(0.1), every2), { numRuns: 10 });
    const tx = chain(scale(2), conditionallyMask(sgd(0.5), every2));
    const c = compile(tx, Float64Array.of(1));
    c.step(Float64Array.of(1)); // step 0 runs: 1 - 0.5 * 2
    c.step(Float64Array.of(1)); // step 1 is masked
    expect(Array.from(c.params)).toEqual([0]);
    expect(c.reason).toBeUndefined();
    c.dispose();
    const [, state] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(1)), Float64Array.of(1));
    expect(roundTrip(tx, Float64Array.of(1), state)).toEqual(state);
  });

  it("refuses bad arguments, a condition that gives no boolean, and a foreign state, naming the path", () => {
    const refused = (message: RegExp) =>
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) });
    expect(() => conditionallyMask({} as never, () => true)).toThrow(refused(/conditionallyMask: expected a Gradient/));
    expect(() => conditionallyTransform(sgd(1), 1 as never)).toThrow(refused(/shouldTransform must be a function/));
    expect(() => conditionallyTransform(sgd(1), () => true, { forwardExtraArgs: 1 as never })).toThrow(
      refused(/forwardExtraArgs must be a boolean/),
    );
    expect(() => conditionallyTransform(sgd(1), () => true, { forwardExtra: true } as never)).toThrow(
      refused(/forwardExtraArgs/),
    );
    const g = Float64Array.of(1);
    const odd = conditionallyTransform(scale(1), () => 1 as never);
    expect(() => odd.update(g, odd.init(g))).toThrow(refused(/shouldTransform gave number at step 0, not a boolean/));
    const tx = chain(
      scale(1),
      conditionallyMask(adam(0.1), () => true),
    );
    const [s0, s1] = tx.init(g);
    expect(() => tx.update(g, [s0, { innerState: s1.innerState }] as never, g)).toThrow(badState("[1]"));
    expect(() => tx.update(g, [s0, { ...s1, step: -1 }], g)).toThrow(badState());
    expect(() => tx.update(g, [s0, { ...s1, innerState: [{}, s1.innerState[1]] }] as never, g)).toThrow(
      badState("[1].innerState[0]"),
    );
  });
});

describe("snapshot", () => {
  it("records the norm before the clip (optax transforms/_monitoring_test.py: test_snapshot, and its doctest)", () => {
    const opt = chain(
      sgd(0.1, { momentum: 0.9 }),
      snapshot("normBeforeClip", (u) => tree.norm(u)),
      clipByGlobalNorm(0.05),
    );
    const x0 = [1, 2, 3];
    let params = Float64Array.from(x0);
    let state = opt.init(params);
    const norms: number[] = [];
    for (let step = 0; step < 2; step++) {
      const [u, next] = opt.update(
        params.map((x) => 2 * x),
        state,
        params,
      );
      params = tree.add(params, u);
      state = next;
      norms.push(tree.get(state, "normBeforeClip") as number);
    }
    // By hand: step 1's update is -0.1 g1, g1 = 2 x0, of norm 0.2 |x0|; the clip makes it
    // -0.05 x0 / |x0|. Step 2: g2 = 2 x1, the trace g2 + 0.9 g1, the update -0.1 of it.
    const n0 = Math.sqrt(14);
    const x1 = x0.map((x) => x - (0.05 * x) / n0);
    const u2 = x1.map((x, i) => -0.1 * (2 * x + 0.9 * 2 * x0[i]!));
    expect(norms[0]).toBeCloseTo(0.2 * n0, 12); // 7.48e-1 in optax's doctest
    expect(norms[1]).toBeCloseTo(Math.hypot(...u2), 12); // 1.41e+0
  });

  it("passes the updates through as the very same tree, measures the params at init, and owns what it keeps", () => {
    const tx = snapshot("copy", (u) => u);
    const p = { w: Float64Array.of(1, 2) };
    const s0 = tx.init(p);
    expect(s0.measurement.copy).toEqual(p);
    expect((s0.measurement.copy as typeof p).w).not.toBe(p.w);
    const g = { w: Float64Array.of(3, 4) };
    const [u, s1] = tx.update(g, s0, p);
    expect(u).toBe(g);
    g.w[0] = 99; // the caller reuses its buffer
    expect(values(s1.measurement.copy as PyTree)).toEqual([3, 4]);
  });

  it("runs as a barrier in a compiled loop, and its state checkpoints", () => {
    const tx = chain(
      sgd(0.5),
      snapshot("sum", (u) => tree.sum(u)),
    );
    const run = compile(tx, Float64Array.of(1, 2));
    run.step(Float64Array.of(2, 4));
    expect(Array.from(run.params)).toEqual([0, 0]);
    expect(tree.get(run.state(), "sum")).toBe(-3); // -0.5 * (2 + 4)
    expect(run.reason).toMatch(/plain TypeScript/);
    run.dispose();
    const p = Float64Array.of(1, 2);
    const [, state] = tx.update(Float64Array.of(2, 4), tx.init(p), p);
    expect(roundTrip(tx, p, state)).toEqual(state);
  });

  it("refuses a bad name or measure, a measurement that is no number or pytree, and a foreign state", () => {
    const refused = (message: RegExp) =>
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) });
    expect(() => snapshot("", () => 1)).toThrow(refused(/measureName must be a non-empty string/));
    expect(() => snapshot("n", "norm" as never)).toThrow(refused(/measure must be a function/));
    const g = Float64Array.of(1);
    expect(() => snapshot("n", () => "big" as never).init(g)).toThrow(refused(/number or a pytree, got string/));
    const tx = chain(
      scale(1),
      snapshot("n", () => 1),
    );
    const [s0] = tx.init(g);
    expect(() => tx.update(g, [s0, { shapes: s0.shapes }] as never, g)).toThrow(badState());
  });
});

describe("monitor", () => {
  /** optax's measure_with_ema, written from its formula: a debiased moving average of a measure. */
  const measureWithEma = (
    measure: (u: PyTree) => number,
    decay: number,
  ): GradientTransformation<{ count: number; ema: number }> => ({
    init: () => ({ count: 0, ema: 0 }),
    update: (u, st) => {
      const next = { count: st.count + 1, ema: decay * st.ema + (1 - decay) * measure(u) };
      return [(next.ema / (1 - decay ** next.count)) as never, next];
    },
  });

  it("records a norm and its moving average before the clip (optax transforms/_monitoring_test.py: test_monitor)", () => {
    const decay = 0.9;
    const norm = (u: PyTree) => tree.norm(u);
    const opt = chain(
      sgd(0.1, { momentum: 0.9 }),
      monitor({ normBeforeClip: norm, normBeforeClipEma: measureWithEma(norm, decay) }),
      clipByGlobalNorm(0.05),
    );
    const before = sgd(0.1, { momentum: 0.9 });
    let params: PyTree = Float64Array.of(1, 2, 3);
    let state = opt.init(params);
    let aux = before.init(params);
    let emaNorm = 0;
    for (let step = 1; step <= 3; step++) {
      const grads: PyTree = tree.scale(2, params);
      const [beforeClip, auxNext] = before.update(grads, aux, params);
      aux = auxNext;
      const [u, next]: readonly [PyTree, typeof state] = opt.update(grads, state, params);
      params = tree.add(params, u);
      state = next;
      const n = tree.norm(beforeClip);
      emaNorm = decay * emaNorm + (1 - decay) * n;
      expect(tree.get(state, "normBeforeClip")).toBe(n);
      expect(tree.get(state, "normBeforeClipEma")).toBeCloseTo(emaNorm / (1 - decay ** step), 12);
    }
    // optax's doctest, for the steps it prints: the first norm is 0.2 sqrt(14) = 7.48e-1.
  });

  it("hands params and extra to the measures, passes the updates through, and keeps the measures' order", () => {
    const seen: unknown[] = [];
    const spy: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: (u, st, p, extra) => (seen.push([p, extra]), [u, st]),
    };
    const tx = monitor({ z: (u) => tree.sum(u), a: spy });
    const p = Float64Array.of(1);
    const s0 = tx.init(p);
    expect(Object.keys(s0.measurements)).toEqual(["z", "a"]);
    expect(s0.measurements).toEqual({ z: 1, a: Float64Array.of(0) });
    const g = Float64Array.of(2);
    const [u, s1] = tx.update(g, s0, p, { value: 7 });
    expect(u).toBe(g);
    expect(seen).toEqual([[p, { value: 7 }]]);
    expect(s1.measurements).toEqual({ z: 2, a: Float64Array.of(2) });
    expect((s1.measurements.a as Float64Array) === g).toBe(false); // copied into the state
  });

  it("checkpoints against a fresh init with gradtx measures, and against a later state with a number measure", () => {
    const tx = chain(sgd(0.5), monitor({ norm: (u) => tree.norm(u), avg: ema(0.9) }));
    const p = Float64Array.of(3, 4);
    const [, state] = tx.update(Float64Array.of(6, 8), tx.init(p), p);
    expect(roundTrip(tx, p, state)).toEqual(state);
    const counted = monitor({ ema: measureWithEma((u) => tree.norm(u), 0.5) });
    const [, s1] = counted.update(p, counted.init(p), p);
    const [, s2] = counted.update(p, s1, p);
    expect(deserializeState(serializeState(s2), s1)).toEqual(s2);
  });

  it("refuses measures that are neither functions nor transformations, and a foreign state", () => {
    expect(() => monitor([] as never)).toThrow(expect.objectContaining({ code: "INVALID_HYPERPARAMETER" }));
    expect(() => monitor({ n: 1 } as never)).toThrow(/monitor: measures\["n"\]: expected a GradientTransformation/);
    const tx = monitor({ avg: ema(0.9) });
    const g = Float64Array.of(1);
    const s0 = tx.init(g);
    expect(() => tx.update(g, { ...s0, measureStates: [] }, g)).toThrow(badState());
    expect(() => tx.update(g, { shapes: s0.shapes } as never, g)).toThrow(badState());
  });
});
