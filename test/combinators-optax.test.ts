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
  chain,
  compile,
  deserializeState,
  freeze,
  identity,
  scale,
  serializeState,
  setToZero,
  sgd,
  stateless,
  statelessWithTreeMap,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, checkTransformationLaws, runProblem } from "../src/laws/index.js";
import { expectBitEqual, values } from "./helpers.js";

const badState = (path?: string) =>
  expect.objectContaining({ code: "BAD_STATE", ...(path === undefined ? {} : { path }) });

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

  it("keeps the transformation laws", () => {
    checkTransformationLaws(
      freeze((path) => path.length % 2 === 0),
      { numRuns: 10 },
    );
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
