/**
 * `tree.get` and `tree.set`: a named field anywhere in a state, with optax's `tree_get` and
 * `tree_set` semantics (a default for a missing field on get, an error for an ambiguous one; an
 * error for a missing field on set, every occurrence replaced).
 */
import { describe, expect, it } from "vitest";
import { adam, chain, GradTxError, injectHyperparams, lookahead, sgd, tree } from "../src/index.js";

const params = Float64Array.of(1, 2, 3);
const errorOf = (thunk: () => unknown): GradTxError => {
  try {
    thunk();
  } catch (e) {
    if (e instanceof GradTxError) return e;
    throw e;
  }
  throw new Error("did not throw");
};

describe("tree.get", () => {
  it("finds learningRate in an injectHyperparams state, however deep", () => {
    const opt = lookahead(
      injectHyperparams((h) => sgd(h.learningRate), { learningRate: 0.1 }),
      { syncPeriod: 2 },
    );
    expect(tree.get(opt.init(params), "learningRate")).toBe(0.1);
  });

  it("gives the default, or undefined, for a field that is nowhere", () => {
    const state = adam(0.1).init(params);
    expect(tree.get(state, "learningRate")).toBeUndefined();
    expect(tree.get(state, "learningRate", 7)).toBe(7);
  });

  it("refuses an ambiguous name, listing every place it is, at the second one", () => {
    // Two Adams in a chain: two counts.
    const state = chain(adam(0.1), adam(0.2)).init(params);
    const e = errorOf(() => tree.get(state, "count"));
    expect(e.code).toBe("BAD_STATE");
    expect(e.message).toMatch(/2 fields are named "count", at \[0\]\[0\]\.count, \[1\]\[0\]\.count/);
    expect(e.path).toBe("[1][0].count");
  });

  it("does not search inside leaves, and refuses a cyclic tree", () => {
    expect(tree.get({ a: Float64Array.of(1) }, "length")).toBeUndefined();
    const cyclic: Record<string, unknown> = { x: 1 };
    cyclic.self = cyclic;
    expect(errorOf(() => tree.get(cyclic, "y")).code).toBe("BAD_STATE");
    expect(errorOf(() => tree.get({}, "" as never)).code).toBe("INVALID_HYPERPARAMETER");
  });
});

describe("tree.set", () => {
  it("replaces a field and copies only the containers on the way to it", () => {
    const opt = injectHyperparams((h) => sgd(h.learningRate), { learningRate: 0.1 });
    const state = opt.init(params);
    const next = tree.set(state, { learningRate: 0.01 });
    expect(tree.get(next, "learningRate")).toBe(0.01);
    expect(tree.get(state, "learningRate")).toBe(0.1);
    expect(next.inner).toBe(state.inner);
    // The next step runs with the new rate: -0.01 * g.
    const [u] = opt.update(Float64Array.of(1, 1, 1), next, params);
    expect(Array.from(u as Float64Array)).toEqual([-0.01, -0.01, -0.01]);
  });

  it("replaces every occurrence, as optax does, and takes arrays on the way", () => {
    const state = { parts: [{ count: 1 }, { count: 2, inner: { count: 3 } }] };
    expect(tree.set(state, { count: 0 })).toEqual({ parts: [{ count: 0 }, { count: 0, inner: { count: 0 } }] });
    expect(state.parts[1]?.inner?.count).toBe(3);
  });

  it("does not search inside a field it replaces", () => {
    const state = { a: { a: 1 }, b: 2 };
    expect(tree.set(state, { a: 5 })).toEqual({ a: 5, b: 2 });
  });

  it("refuses a name that is nowhere, and values that are not an object", () => {
    const e = errorOf(() => tree.set({ a: 1 }, { learningRate: 0.1 }));
    expect(e.code).toBe("BAD_STATE");
    expect(e.message).toMatch(/no field is named "learningRate"/);
    expect(errorOf(() => tree.set({ a: 1 }, 3 as never)).code).toBe("INVALID_HYPERPARAMETER");
  });
});
