/**
 * The laws kit catches real bugs: each deliberately broken transformation below fails the
 * checker of the law it breaks (and the report states the law and a counterexample), while
 * gradtx's own transformations pass.
 */
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  lookahead,
  scale,
  sgd,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import {
  checkDeterminism,
  checkFinite,
  checkLookaheadSync,
  checkPurity,
  checkStructure,
  checkTransformationLaws,
  fingerprint,
  LawViolation,
} from "../src/laws/index.js";
import { dataOf, flatten, unflatten } from "../src/core/pytree.js";

function violation(check: () => void): LawViolation {
  try {
    check();
  } catch (e) {
    if (e instanceof LawViolation) return e;
    throw e;
  }
  throw new Error("the checker passed a broken transformation");
}

/** Scales by -0.1, but writes the result into the caller's gradient arrays. */
const mutatesItsInput: GradientTransformation = {
  init: () => ({}),
  update(updates, state) {
    for (const leaf of flatten(updates).leaves) {
      const d = dataOf(leaf);
      for (let j = 0; j < d.length; j++) d[j] = -0.1 * d[j]!;
    }
    return [updates, state];
  },
};

/** Returns all but the last leaf. */
const dropsALeaf: GradientTransformation = {
  init: () => ({}),
  update(updates, state) {
    const flat = flatten(updates);
    const leaves = flat.leaves.length > 1 ? flat.leaves.slice(0, -1) : [];
    return [leaves.length === 0 ? null : unflatten(flatten(leaves).def, leaves), state];
  },
};

/** Scales by a factor kept in a closure instead of the state. */
const hiddenCounter = ((): GradientTransformation => {
  let calls = 0;
  return {
    init: () => ({}),
    update: (updates, state) => [tree.scale(++calls, updates), state],
  };
})();

/** sgd(0.1), except that a zero gradient element becomes NaN (0 / 0 somewhere inside). */
const nanForZero: GradientTransformation = {
  init: () => ({}),
  update: (updates, state) => [
    tree.map((leaf) => {
      const d = dataOf(leaf);
      return d.map((x) => (x === 0 ? NaN : -0.1 * x)) as typeof d;
    }, updates),
    state,
  ],
};

/** A Lookahead that syncs after steps k+1, 2k+1, ... instead of k, 2k, ... (an off-by-one in the counter test). */
function syncsOneStepLate(
  inner: GradientTransformation,
  options: { syncPeriod: number; alpha: number },
): GradientTransformation {
  interface State {
    count: number;
    slow: PyTree;
    inner: unknown;
  }
  return {
    init: (params) => ({ count: 0, slow: tree.add(tree.zerosLike(params), params), inner: inner.init(params) }),
    update(updates, state, params) {
      const s = state as State;
      const [u, innerNext] = inner.update(updates, s.inner, params);
      const count = s.count + 1;
      if (count === 1 || count % options.syncPeriod !== 1 % options.syncPeriod)
        return [u, { ...s, count, inner: innerNext }];
      const fast = applyUpdates(params!, u);
      const v = tree.sub(tree.add(s.slow, tree.scale(options.alpha, tree.sub(fast, s.slow))), params!);
      return [v, { count, slow: applyUpdates(params!, v), inner: innerNext }];
    },
  };
}

describe("the laws kit catches deliberately broken transformations", () => {
  it("purity catches a transformation that writes into its input", () => {
    const v = violation(() => checkPurity(mutatesItsInput, { numRuns: 50 }));
    expect(v.law).toBe("purity");
    expect(v.message).toMatch(/must not change their inputs/);
    expect(v.message).toMatch(/Counterexample/);
  });

  it.each([
    ["a Map", () => ({ seen: new Map<string, number>() }), (s: { seen: Map<string, number> }) => s.seen.set("k", 1)],
    ["a Set", () => ({ seen: new Set<number>() }), (s: { seen: Set<number> }) => s.seen.add(1)],
    ["a Date", () => ({ seen: new Date(0) }), (s: { seen: Date }) => s.seen.setTime(1)],
  ] as const)("purity catches a transformation that mutates %s in its state", (_, init, mutate) => {
    const tx: GradientTransformation = {
      init,
      update(updates, state) {
        (mutate as (s: unknown) => void)(state);
        return [tree.scale(-0.1, updates), state];
      },
    };
    expect(violation(() => checkPurity(tx, { numRuns: 5 })).law).toBe("purity");
  });

  it("fingerprint sees the contents of Maps, Sets, Dates, other typed arrays and boxed values", () => {
    const pairs: [() => unknown, (x: never) => void][] = [
      [() => new Map([["a", 1]]), (m: Map<string, number>) => m.set("a", 2)],
      [() => new Map([["a", 1]]), (m: Map<string, number>) => m.set("b", 1)],
      [() => new Set([1]), (x: Set<number>) => x.add(2)],
      [() => new Date(5), (d: Date) => d.setTime(6)],
      [() => Int32Array.of(1), (a: Int32Array) => (a[0] = 2)],
      [() => new Uint8Array(2).buffer, (b: ArrayBuffer) => (new Uint8Array(b)[1] = 1)],
      [() => ({ box: Object(1) as number }), (o: { box: number & { extra?: number } }) => (o.box.extra = 1)],
      // A hole becomes undefined: an array with a hole at 1, built without a sparse literal.
      [() => Object.assign(new Array<number>(3), { 0: 1, 2: 3 }), (a: unknown[]) => (a[1] = undefined)],
      [() => Float64Array.of(0), (a: Float64Array) => (a[0] = -0)],
    ];
    for (const [make, mutate] of pairs) {
      const value = make();
      const before = fingerprint(value);
      expect(fingerprint(make())).toBe(before);
      mutate(value as never);
      expect(fingerprint(value), before).not.toBe(before);
    }
  });

  it("structure preservation catches a transformation that drops a leaf", () => {
    expect(violation(() => checkStructure(dropsALeaf, { numRuns: 50 })).law).toBe("structure and dtype preservation");
  });

  it("determinism catches an output that depends on a hidden counter", () => {
    expect(violation(() => checkDeterminism(hiddenCounter, { numRuns: 50 })).law).toBe("determinism");
  });

  it("finite in, finite out catches NaN for a zero gradient", () => {
    expect(violation(() => checkFinite(nanForZero, { numRuns: 200 })).law).toBe("finite in, finite out");
  });

  it("the sync law catches a Lookahead that syncs one step late", () => {
    const v = violation(() =>
      checkLookaheadSync({
        numRuns: 100,
        lookahead: syncsOneStepLate,
        slowParams: (state) => (state as { slow: PyTree }).slow,
      }),
    );
    expect(v.law).toBe("lookahead sync");
    expect(v.message).toMatch(/after steps k, 2k/);
  });

  it("while the correct versions pass every law", () => {
    checkTransformationLaws(scale(-0.1), { numRuns: 30 });
    checkTransformationLaws(sgd(0.1), { numRuns: 30 });
    checkLookaheadSync({ numRuns: 30 });
    checkTransformationLaws(lookahead(adam(0.1)), { numRuns: 30 });
  });
});

describe("the arbitraries", () => {
  it("generate trees the library accepts, with both dtypes and ndarray leaves", async () => {
    const fc = await import("fast-check");
    const { arbitraryTree } = await import("../src/laws/index.js");
    const kinds = new Set<string>();
    for (const t of fc.sample(arbitraryTree(), { numRuns: 200, seed: 1 })) {
      for (const leaf of tree.leaves(t as PyTree)) {
        kinds.add(leaf instanceof Float32Array ? "f32" : leaf instanceof Float64Array ? "f64" : "ndarray");
      }
    }
    expect([...kinds].sort()).toEqual(["f32", "f64", "ndarray"]);
  });
});
