/**
 * The combinators as executor nodes: each gives the same bits on the WebAssembly and JavaScript
 * backends and with a donated state, and the same numbers as composing it by hand wherever
 * optax defines it as a composition (masked: the inner transformation on the selected sub-tree,
 * the other leaves untouched; multiTransform: a chain of one masked transformation per label;
 * injectHyperparams: the factory's transformation rebuilt with each step's numbers;
 * applyIfFinite: the inner transformation on finite steps, zeros and the old state on others;
 * multiSteps: zeros on k - 1 mini-steps, the inner transformation on the mean on the k-th), and
 * Lookahead's interpolated inner state and adaptive alpha against the paper's algorithm written
 * out by hand.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  addDecayedWeights,
  applyIfFinite,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  donate,
  exponentialDecay,
  injectHyperparams,
  lamb,
  lookahead,
  masked,
  multiSteps,
  multiTransform,
  scale,
  scaleByPolyak,
  scaleBySchedule,
  scaleByTrustRatio,
  sgd,
  trace,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { withBackend } from "../src/kernels/backend.js";
import { Transformation, updateNode } from "../src/kernels/executor.js";
import { codeKey, type Kernel } from "../src/kernels/kernel.js";
import { childrenOf, type Node } from "../src/kernels/node.js";
import { arbitraryProblem, fingerprint, type Problem } from "../src/laws/index.js";
import { selectLeaves } from "../src/core/partition.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  flatten,
  isFloatArray,
  isLeaf,
  leafPaths,
  MAX_DEPTH,
  shapeOf,
  unflatten,
  type FloatArray,
  type Leaf,
} from "../src/core/pytree.js";
import { copyTree } from "../src/core/state.js";
import { expectBitEqual, expectClose, values } from "./helpers.js";

/** `p + u`, leaf by leaf in each leaf's dtype, into fresh arrays. */
const applyUpdatesCopy = (p: PyTree, u: PyTree): PyTree => applyUpdates(copyTree(flatten(p)), u);

const G = (tx: unknown) => tx as GradientTransformation;

const holdsLookahead = (node: Node): boolean => node.kind === "lookahead" || childrenOf(node).some(holdsLookahead);
/** `part` between kernels: after one, and before one unless it holds a Lookahead (chain takes one only last). */
const betweenKernels = (part: unknown): GradientTransformation =>
  G(holdsLookahead((part as Transformation).node) ? chain(scale(0.5), G(part)) : chain(scale(0.5), G(part), scale(2)));

/** Fingerprints of every step of a run: updates, params and state, bit for bit. */
interface Run {
  readonly steps: readonly { readonly updates: string; readonly params: string; readonly state: string }[];
}

/** Runs a fresh `make()` over `problem`, donating the state and the params every step if `donated`. */
function run(make: () => GradientTransformation, problem: Problem, donated = false): Run {
  const tx = make();
  let params: PyTree = donated ? copyTree(flatten(problem.params)) : problem.params;
  let state = tx.init(params);
  const steps: Run["steps"][number][] = [];
  for (const g of problem.grads) {
    const [u, next] = tx.update(g, donated ? donate(state) : state, params);
    // Fingerprinted now: a donated run reuses these arrays at the next step.
    const updates = fingerprint(u);
    params = applyUpdates(donated ? donate(params) : params, u);
    state = next;
    // The params' values only: a donated run trains a copy with plain typed-array leaves.
    steps.push({ updates, params: fingerprint(flatten(params).leaves.map(dataOf)), state: fingerprint(state) });
  }
  return { steps };
}

/** Asserts two runs agree step by step, naming the first difference. */
function expectSameRun(actual: Run, expected: Run, label: string, withState = true): void {
  expect(actual.steps.length).toBe(expected.steps.length);
  actual.steps.forEach((step, t) => {
    expect(step.updates, `${label}: updates at step ${t + 1}`).toBe(expected.steps[t]!.updates);
    expect(step.params, `${label}: params at step ${t + 1}`).toBe(expected.steps[t]!.params);
    if (withState) expect(step.state, `${label}: state at step ${t + 1}`).toBe(expected.steps[t]!.state);
  });
}

/** WebAssembly, JavaScript, and WebAssembly with donation: the same bits. */
function expectSameOnBackends(make: () => GradientTransformation, problem: Problem, label: string): void {
  const wasm = withBackend("wasm", () => run(make, problem));
  expectSameRun(
    withBackend("js", () => run(make, problem)),
    wasm,
    `${label} (js vs wasm)`,
  );
  expectSameRun(
    withBackend("wasm", () => run(make, problem, true)),
    wasm,
    `${label} (donated vs not)`,
  );
}

/** Selects leaves by the parity of their path's length: both kinds occur in every random tree of two leaves or more. */
const even = (path: string): boolean => path.length % 2 === 0;
const odd = (path: string): boolean => !even(path);

/** The leaves of `tree` that `select` picks, the others null: what a masked inner transformation sees. */
function part(tree: PyTree, select: (path: string) => boolean): PyTree {
  const flat = flatten(tree);
  return selectLeaves(flat, leafPaths(flat.def).map(select));
}

/**
 * optax's `masked`, composed by hand: `inner` runs on the selected sub-tree (the other leaves
 * null), and its outputs replace the selected leaves; the others pass through.
 */
function maskedByHand(inner: GradientTransformation, select: (path: string) => boolean): GradientTransformation {
  return {
    init: (params) => ({ inner: inner.init(part(params, select)) }),
    update(updates, state, params) {
      const s = state as { inner: unknown };
      const [out, next] = inner.update(
        part(updates, select),
        s.inner,
        params === undefined ? undefined : part(params, select),
      );
      const flat = flatten(updates);
      const outputs = flatten(out).leaves;
      let k = 0;
      const leaves = leafPaths(flat.def).map((path, i) => (select(path) ? outputs[k++]! : flat.leaves[i]!));
      return [unflatten(flat.def, leaves), { inner: next }];
    },
  };
}

describe("masked as an executor node", () => {
  const cases: [string, () => GradientTransformation, () => GradientTransformation][] = [
    ["masked(adam)", () => G(masked(adam(0.1), even)), () => maskedByHand(adam(0.1), even)],
    [
      "masked(chain(clipByGlobalNorm, adam)): the norm over the selected leaves only",
      () => G(masked(chain(clipByGlobalNorm(0.5), adam(0.1)), odd)),
      () => maskedByHand(G(chain(clipByGlobalNorm(0.5), adam(0.1))), odd),
    ],
    [
      "masked(lookahead(sgd momentum))",
      () => G(masked(lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2 }), even)),
      () => maskedByHand(G(lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2 })), even),
    ],
    [
      "masked(masked(adam)): nested views",
      () =>
        G(
          masked(
            masked(adam(0.1), (path) => path.includes("[")),
            even,
          ),
        ),
      () =>
        maskedByHand(
          maskedByHand(adam(0.1), (path) => path.includes("[")),
          even,
        ),
    ],
  ];

  it("gives the same bits on both backends, donated or not, inside a chain of kernels", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), fc.constantFrom(...cases), (problem, [name, make]) => {
        expectSameOnBackends(() => betweenKernels(make()), problem, name);
      }),
      { numRuns: 40 },
    );
  });

  it("equals the inner transformation run by hand on the selected sub-tree (optax's definition)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), fc.constantFrom(...cases), (problem, [name, make, byHand]) => {
        expectSameRun(run(make, problem), run(byHand, problem), name);
      }),
      { numRuns: 40 },
    );
  });

  it("takes a clip's norm over the selected leaves also where their squares overflow", () => {
    const tx = masked(clipByGlobalNorm(1e200), { a: true, b: false });
    const g = { a: Float64Array.of(3e200, 4e200), b: Float64Array.of(1e300) };
    const [u] = tx.update(g, tx.init(g)) as [typeof g, unknown];
    // ||a|| = 5e200 (b's 1e300 is outside the mask): a * 1e200 / 5e200 = (6e199, 8e199).
    expectClose(u.a, Float64Array.of(6e199, 8e199), 8e199 * 4e-16);
    expect(u.b).toBe(g.b);
  });
});

describe("a stage of kernels without slots before a sum, computed again by the next stage", () => {
  // Each pair as one chain, whose first stage (the scale, the weight decay) only sums and the
  // next computes again, against the two run one after the other (each stores its updates).
  const pairs: [string, () => GradientTransformation<unknown>[]][] = [
    ["scale, clipByGlobalNorm", () => [scale(-0.75), clipByGlobalNorm(0.5)]],
    ["addDecayedWeights, scaleByTrustRatio", () => [addDecayedWeights(0.3), scaleByTrustRatio()]],
    ["scale, scale, scaleByPolyak", () => [chain(scale(2), scale(-0.5)), scaleByPolyak()]],
    // Views: each kernel on some leaves only.
    [
      "masked addDecayedWeights, masked scaleByTrustRatio",
      () => [masked(addDecayedWeights(0.3), { a: true, b: false }), masked(scaleByTrustRatio(), { a: false, b: true })],
    ],
    // Two stages computed again: the last computes the scale and the first clip again.
    ["scale, clipByGlobalNorm, clipByGlobalNorm", () => [scale(3), clipByGlobalNorm(2), clipByGlobalNorm(0.5)]],
  ];
  const leaf = (dtype: "f32" | "f64", xs: number[]) => (dtype === "f32" ? Float32Array : Float64Array).from(xs);
  const pair = fc.tuple(fc.double({ min: -4, max: 4, noNaN: true }), fc.double({ min: -4, max: 4, noNaN: true }));
  /** Gradients and params of one structure: two leaves, of either dtype. */
  const problem = fc
    .record({
      dtypeA: fc.constantFrom("f32" as const, "f64" as const),
      dtypeB: fc.constantFrom("f32" as const, "f64" as const),
      a: fc.array(pair, { minLength: 1, maxLength: 40 }),
      b: fc.array(pair, { minLength: 1, maxLength: 9 }),
    })
    .map(({ dtypeA, dtypeB, a, b }) =>
      ([0, 1] as const).map((j) => ({
        a: leaf(
          dtypeA,
          a.map((x) => x[j]),
        ),
        b: leaf(
          dtypeB,
          b.map((x) => x[j]),
        ),
      })),
    );
  /** Each transformation of `make()` run on the one before's updates, each storing them. */
  const byHand = (make: () => GradientTransformation<unknown>[], g: PyTree, p: PyTree): PyTree =>
    make().reduce((u, tx) => tx.update(u, tx.init(p), p, { value: 1 })[0], g);

  for (const [name, make] of pairs)
    it(`${name}: the bits of the two run one after the other, on both backends, donated and compiled`, () => {
      fc.assert(
        fc.property(problem, ([g, p]) => {
          const want = byHand(make, g, p);
          const tx = () => chain(...make());
          for (const which of ["wasm", "js"] as const)
            withBackend(which, () => {
              const t = tx();
              expectBitEqual(t.update(g, t.init(p), p, { value: 1 })[0], want, `${which}`);
              const [du] = t.update(copyTree(flatten(g)), donate(t.init(p)), p, { value: 1 });
              expectBitEqual(du, want, `${which}, donated`);
            });
          const run = compile(chain(...make(), scale(1)), copyTree(flatten(p)));
          run.step(g, { value: 1 });
          expectBitEqual(applyUpdatesCopy(p, want), run.params, "compiled");
          run.dispose();
        }),
        { numRuns: 40 },
      );
    });

  it("its values are computed where the next stage's norm needs them: squares that overflow", () => {
    // ||1e150 (3e10, 4e10)|| = 5e160, whose square overflows: the clip to 1 gives (0.6, 0.8).
    const g = { w: Float64Array.of(3e10, 4e10) };
    const tx = chain(scale(1e150), clipByGlobalNorm(1));
    const [u] = tx.update(g, tx.init(g)) as [typeof g, unknown];
    expectClose(u.w, Float64Array.of(0.6, 0.8), 4e-16);
    expectBitEqual(
      u,
      byHand(() => [scale(1e150), clipByGlobalNorm(1)], g, g),
      "by hand",
    );
  });
});

describe("multiTransform as an executor node", () => {
  /** Three labels by the length of the leaf's path; a random tree may leave a label without leaves. */
  const label = (path: string): string => ["a", "b", "c"][path.length % 3]!;
  const parts = (): Record<string, GradientTransformation> => ({
    a: G(chain(clipByGlobalNorm(0.5), adam(0.1))),
    b: G(lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2 })),
    c: G(masked(adam(0.05), (path) => path.includes("["))),
  });

  it("gives the same bits on both backends, donated or not, inside a chain of kernels", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        expectSameOnBackends(() => betweenKernels(multiTransform(parts(), label)), problem, "multiTransform");
      }),
      { numRuns: 30 },
    );
  });

  it("equals a chain of one masked transformation per label, composed by hand (optax's definition)", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 5 }), (problem) => {
        const p = parts();
        const byHand = () =>
          G(
            chain(
              maskedByHand(p.a!, (path) => label(path) === "a"),
              maskedByHand(p.b!, (path) => label(path) === "b"),
              maskedByHand(p.c!, (path) => label(path) === "c"),
            ),
          );
        // The states differ in layout ({ inner: { a, b, c } } against a chain's array), not in numbers.
        expectSameRun(
          run(() => multiTransform(parts(), label), problem),
          run(byHand, problem),
          "multiTransform",
          false,
        );
      }),
      { numRuns: 30 },
    );
  });
});

describe("injectHyperparams as an executor node", () => {
  type H = Readonly<Record<"lr" | "b1" | "clip" | "alpha", number>>;
  const factory = (h: H) =>
    G(chain(clipByGlobalNorm(h.clip), lookahead(adam(h.lr, { b1: h.b1 }), { alpha: h.alpha, syncPeriod: 2 })));
  const lr = exponentialDecay({ initValue: 0.1, transitionSteps: 2, decayRate: 0.5 });
  const injected = () => G(injectHyperparams(factory, { lr, b1: 0.8, clip: 0.5, alpha: 0.6 }));

  /** optax's inject_hyperparams by hand: the factory called with each step's numbers, its state carried. */
  const byHand = (): GradientTransformation => {
    const at = (count: number): H => ({ lr: lr(count), b1: 0.8, clip: 0.5, alpha: 0.6 });
    return {
      init: (params) => ({ count: 0, inner: factory(at(0)).init(params) }),
      update(updates, state, params) {
        const s = state as { count: number; inner: unknown };
        const [u, inner] = factory(at(s.count)).update(updates, s.inner, params);
        return [u, { count: s.count + 1, inner }];
      },
    };
  };

  it("gives the same bits on both backends, donated or not, inside a chain of kernels", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        expectSameOnBackends(() => betweenKernels(injected()), problem, "injectHyperparams");
      }),
      { numRuns: 30 },
    );
  });

  it("equals the factory's transformation rebuilt by hand with each step's hyperparameters", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        // The states differ in layout (the hyperparams record), not in numbers.
        expectSameRun(run(injected, problem), run(byHand, problem), "injectHyperparams", false);
      }),
      { numRuns: 30 },
    );
  });

  it("runs a rebuilt kernel on the passes of the first: kernels differing only in numbers share a code key", () => {
    const kernels = (node: Node): Kernel[] =>
      node.kind === "kernel"
        ? [node.kernel]
        : node.kind === "chain"
          ? node.parts.flatMap(kernels)
          : node.kind === "lookahead"
            ? [...kernels(node.inner), node.sync]
            : [];
    const keys = (tx: GradientTransformation) => kernels((tx as Transformation).node).map(codeKey);
    expect(keys(factory({ lr: 0.1, b1: 0.9, clip: 1, alpha: 0.5 }))).toEqual(
      keys(factory({ lr: 0.01, b1: 0.5, clip: 2, alpha: 0.8 })),
    );
    // A different body is different code: Nesterov's moment correction.
    expect(keys(adam(0.1, { nesterov: true }))).not.toEqual(keys(adam(0.1)));
  });
});

/** A problem whose gradients hold a NaN or an infinity at some steps (their first element). */
const problemWithBadSteps = arbitraryProblem({ maxSteps: 8 }).chain((problem) =>
  fc
    .array(fc.constantFrom(NaN, Infinity, -Infinity, null), {
      minLength: problem.grads.length,
      maxLength: problem.grads.length,
    })
    .map((bad): Problem => ({
      params: problem.params,
      grads: problem.grads.map((g, t) => {
        if (bad[t] === null) return g;
        const flat = flatten(g);
        const leaves = flat.leaves.map((leaf, i) => {
          const data = dataOf(leaf).slice();
          if (i === 0) data[0] = bad[t]!;
          return asLeafLike(leaf, data);
        });
        return unflatten(flat.def, leaves);
      }),
    })),
);

describe("applyIfFinite as an executor node", () => {
  const inner = () => G(chain(clipByGlobalNorm(0.5), lookahead(adam(0.1), { syncPeriod: 2 })));

  /** optax's apply_if_finite by hand: every element checked here, the inner run only on the steps it applies. */
  const byHand = (tx: GradientTransformation, max: number): GradientTransformation => ({
    init: (params) => ({ notFiniteCount: 0, lastFinite: true, totalNotFinite: 0, inner: tx.init(params) }),
    update(updates, state, params) {
      const s = state as { notFiniteCount: number; totalNotFinite: number; inner: unknown };
      const finite = flatten(updates).leaves.every((leaf) => dataOf(leaf).every((x) => Number.isFinite(x)));
      const notFiniteCount = finite ? 0 : s.notFiniteCount + 1;
      const meta = { notFiniteCount, lastFinite: finite, totalNotFinite: s.totalNotFinite + (finite ? 0 : 1) };
      if (finite || notFiniteCount > max) {
        const [u, next] = tx.update(updates, s.inner, params);
        return [u, { ...meta, inner: next }];
      }
      // Zeros of each leaf's dtype and kind.
      const flat = flatten(updates);
      const zeros = flat.leaves.map((leaf) => asLeafLike(leaf, new (ctorOf(leaf))(dataOf(leaf).length)));
      return [unflatten(flat.def, zeros), { ...meta, inner: s.inner }];
    },
  });

  it("gives the same bits on both backends, donated or not, inside a chain of kernels, with bad steps", () => {
    fc.assert(
      fc.property(problemWithBadSteps, fc.integer({ min: 0, max: 3 }), (problem, max) => {
        expectSameOnBackends(() => betweenKernels(applyIfFinite(inner(), max)), problem, "applyIfFinite");
      }),
      { numRuns: 40 },
    );
  });

  it("equals optax's definition composed by hand: the inner step where the updates are finite, else zeros and the old state", () => {
    fc.assert(
      fc.property(problemWithBadSteps, fc.integer({ min: 0, max: 3 }), (problem, max) => {
        // Same layout too: the counts are checked with the numbers.
        expectSameRun(
          run(() => G(applyIfFinite(inner(), max)), problem),
          run(() => byHand(inner(), max), problem),
          "applyIfFinite",
        );
      }),
      { numRuns: 40 },
    );
  });

  it("with finite gradients equals the inner transformation, bit for bit", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        expectSameRun(
          run(() => G(applyIfFinite(inner(), 2)), problem),
          run(inner, problem),
          "applyIfFinite",
          false,
        );
      }),
      { numRuns: 30 },
    );
  });

  it("compiled, gives the pure path's bits, with bad steps", () => {
    fc.assert(
      fc.property(problemWithBadSteps, fc.integer({ min: 0, max: 3 }), (problem, max) => {
        const tx = G(applyIfFinite(inner(), max));
        const compiled = compile(tx, problem.params);
        const pure = run(() => tx, problem);
        problem.grads.forEach((g, t) => {
          compiled.step(g);
          expect(fingerprint(flatten(compiled.params).leaves.map(dataOf)), `params at step ${t + 1}`).toBe(
            pure.steps[t]!.params,
          );
        });
      }),
      { numRuns: 20 },
    );
  });

  it("does not call an opaque inner transformation on a step it skips", () => {
    const seen: number[][] = [];
    // A user's transformation that refuses non-finite updates, between kernels.
    const strict: GradientTransformation<Record<string, never>> = {
      init: () => ({}),
      update: (u, s) => {
        const xs = values(u);
        if (!xs.every(Number.isFinite)) throw new Error("not finite");
        seen.push(xs);
        return [u, s];
      },
    };
    const tx = applyIfFinite(chain(scale(2), strict, sgd(0.5)), 2);
    const p = Float64Array.of(0, 0);
    const [u1, s1] = tx.update(Float64Array.of(1, 2), tx.init(p), p);
    const [u2, s2] = tx.update(Float64Array.of(NaN, 2), s1, p);
    // Step 1: 2 * (1, 2) reaches the strict part, then sgd(0.5): -(1, 2). Step 2 is skipped: zeros.
    expect(seen).toEqual([[2, 4]]);
    expect(values(u1)).toEqual([-1, -2]);
    expect(values(u2)).toEqual([0, 0]);
    expect(s2.inner).toBe(s1.inner);
  });

  it("a donated skipped step runs in place: the inner state keeps its very arrays, and their bits", () => {
    const tx = applyIfFinite(chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 2 })), 2);
    const p = Float32Array.of(1, -2, 0.5);
    const [, s1] = tx.update(Float32Array.of(0.5, -0.5, 3), tx.init(p), p);
    // Every typed array in a state, in key order (the state holds numbers too).
    const arrays = (tree: unknown): unknown[] =>
      isFloatArray(tree)
        ? [tree]
        : typeof tree === "object" && tree !== null
          ? Object.keys(tree)
              .sort()
              .flatMap((k) => arrays((tree as Record<string, unknown>)[k]))
          : [];
    const before = arrays(s1.inner);
    const bits = fingerprint(s1.inner);
    const [u, s2] = tx.update(Float32Array.of(NaN, 1, 1), donate(s1), p);
    expect(values(u)).toEqual([0, 0, 0]);
    expect(s2.notFiniteCount).toBe(1);
    expect(fingerprint(s2.inner)).toBe(bits);
    expect(before.length).toBe(5); // two shape records, the slow weights and Adam's two moments
    arrays(s2.inner).forEach((a, i) => expect(a, `array ${i}`).toBe(before[i]));
  });

  it("a donated state whose inner state a skipped step shared with an older one leaves the older one intact", () => {
    const tx = applyIfFinite(adam(0.1), 1);
    const p = Float64Array.of(1, 2);
    const g = Float64Array.of(0.5, -0.5);
    const [, s1] = tx.update(g, tx.init(p), p);
    const [, s2] = tx.update(Float64Array.of(NaN, 0), s1, p); // skipped: s2.inner is s1.inner
    expect(s2.inner).toBe(s1.inner);
    const before = fingerprint(s1);
    // notFiniteCount 1: the next step is applied whatever it holds, and this state is donated.
    tx.update(g, donate(s2), p);
    expect(fingerprint(s1)).toBe(before);
  });

  it("nor do the nested states it carries: a Lookahead's slow weights, carried by a donated step under the shared state", () => {
    const tx = applyIfFinite(lookahead(sgd(0.1), { syncPeriod: 2 }), 1);
    const p = Float64Array.of(1, 2);
    const g = Float64Array.of(0.5, -0.5);
    const bad = Float64Array.of(NaN, 0);
    const [, s1] = tx.update(g, tx.init(p), p);
    const [, kept] = tx.update(g, donate(s1), p); // a sync: new slow weights
    const [, s3] = tx.update(bad, kept, p); // skipped, not donated: s3.inner is kept.inner
    const before = fingerprint(kept);
    const [, s4] = tx.update(bad, donate(s3), p); // applied anyway; not a sync, so the slow weights carry over
    tx.update(bad, donate(s4), p); // applied; a sync
    expect(fingerprint(kept)).toBe(before);
  });
});

describe("multiSteps as an executor node", () => {
  const inner = () => G(chain(clipByGlobalNorm(0.5), lookahead(adam(0.1), { syncPeriod: 2 })));

  /** optax's MultiSteps by hand (use_grad_mean): the running mean in float64, the inner step on every k-th. */
  const byHand = (tx: GradientTransformation, k: number): GradientTransformation => ({
    init: (params) => ({
      miniStep: 0,
      acc: flatten(params).leaves.map((l) => new Float64Array(dataOf(l).length)),
      inner: tx.init(params),
    }),
    update(updates, state, params) {
      const s = state as { miniStep: number; acc: Float64Array[]; inner: unknown };
      const flat = flatten(updates);
      const acc = flat.leaves.map((leaf, i) => {
        const x = dataOf(leaf);
        const a = s.acc[i]!;
        return a.map((v, j) => v + (x[j]! - v) / (s.miniStep + 1));
      });
      if (s.miniStep + 1 < k) {
        const zeros = flat.leaves.map((leaf) => asLeafLike(leaf, new (ctorOf(leaf))(dataOf(leaf).length)));
        return [unflatten(flat.def, zeros), { miniStep: s.miniStep + 1, acc, inner: s.inner }];
      }
      const mean = unflatten(
        flat.def,
        flat.leaves.map((leaf, i) => asLeafLike(leaf, acc[i]!)),
      );
      const [u, next] = tx.update(mean, s.inner, params);
      return [u, { miniStep: 0, acc: acc.map((a) => new Float64Array(a.length)), inner: next }];
    },
  });

  it("gives the same bits on both backends, donated or not, inside a chain of kernels", () => {
    const every = fc.oneof(
      fc.integer({ min: 1, max: 3 }),
      fc.constant((step: number) => (step % 2 === 0 ? 1 : 3)),
    );
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 8 }), every, (problem, k) => {
        expectSameOnBackends(() => betweenKernels(multiSteps(inner(), k)), problem, "multiSteps");
      }),
      { numRuns: 40 },
    );
  });

  it("equals optax's definition composed by hand: zeros, then the inner step on the mean (float64)", () => {
    fc.assert(
      fc.property(
        arbitraryProblem({ maxSteps: 9, dtypes: ["float64"] }),
        fc.integer({ min: 1, max: 3 }),
        (problem, k) => {
          expectSameRun(
            run(() => G(multiSteps(inner(), k)), problem),
            run(() => byHand(inner(), k), problem),
            "multiSteps",
            false,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it("with k = 1 equals the inner transformation, bit for bit", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), (problem) => {
        expectSameRun(
          run(() => G(multiSteps(inner(), 1)), problem),
          run(inner, problem),
          "multiSteps",
          false,
        );
      }),
      { numRuns: 30 },
    );
  });

  it("a donated state whose inner state a mini-step shared with an older one leaves the older one intact", () => {
    const tx = multiSteps(adam(0.1), 2);
    const p = Float64Array.of(1, 2);
    const g = Float64Array.of(0.5, -0.5);
    const s0 = tx.init(p);
    const [, s1] = tx.update(g, s0, p); // a mini-step: s1.inner is s0.inner
    expect(s1.inner).toBe(s0.inner);
    const before = fingerprint(s0);
    tx.update(g, donate(s1), p); // the inner step, donated
    expect(fingerprint(s0)).toBe(before);
  });

  it("nor do the nested states it carries: a Lookahead's slow weights, carried by a donated step under the shared state", () => {
    const tx = multiSteps(lookahead(sgd(0.1), { syncPeriod: 2 }), 2);
    const p = Float64Array.of(1, 2);
    const g = Float64Array.of(0.5, -0.5);
    let s = tx.init(p);
    // Two inner steps, donated: the second a sync, with new slow weights.
    for (let t = 0; t < 4; t++) [, s] = tx.update(g, donate(s), p);
    const kept = s;
    const [, shared] = tx.update(g, kept, p); // a mini-step, not donated: its inner state is kept's
    const before = fingerprint(kept);
    s = shared;
    // Inner step 3 (not a sync: the slow weights carry over), then 4 (a sync), all donated.
    for (let t = 0; t < 4; t++) [, s] = tx.update(g, donate(s), p);
    expect(fingerprint(kept)).toBe(before);
  });
});

/** Options of the Lookahead written out by hand below. */
interface HandOptions {
  readonly syncPeriod: number;
  readonly alpha: number | "adaptive";
  readonly innerState?: "keep" | "interpolate";
  readonly alphaLow?: number;
  readonly curvatureDecay?: number;
  readonly curvature?: PyTree;
}

/** Every float array of `current` (an ndarray's elements) moved from `atSync`: `atSync + alpha (current - atSync)`; the rest kept. */
function interpolated(atSync: unknown, current: unknown, alpha: number): unknown {
  if (isFloatArray(current))
    return current.map((x, j) => (atSync as Float64Array)[j]! + alpha * (x - (atSync as Float64Array)[j]!));
  if (isLeaf(current))
    return ndarray(interpolated(dataOf(atSync as Leaf), dataOf(current), alpha) as FloatArray, [...shapeOf(current)]);
  if (Array.isArray(current)) return current.map((c: unknown, i) => interpolated((atSync as unknown[])[i], c, alpha));
  if (typeof current === "object" && current !== null)
    return Object.fromEntries(
      Object.entries(current).map(([k, c]) => [k, interpolated((atSync as Record<string, unknown>)[k], c, alpha)]),
    );
  return current;
}

/**
 * Lookahead as the paper and the docs define it, by hand, for float64 trees: k inner steps, then
 * slow' = slow + alpha (fast - slow) with fast = params + u, and the update that lands the
 * params on slow'. Adaptive alpha (Section 2.1) with d = slow - fast and a diagonal curvature A
 * (the bias-corrected average of g^2, or the one given): alpha = clip(1 + (g + A u) . d / (d . A d),
 * alphaLow, 1), and 1 where d . A d is not a positive finite number.
 */
function lookaheadByHand(inner: GradientTransformation, o: HandOptions): GradientTransformation {
  const b = o.curvatureDecay ?? 0.999;
  const leavesOf = (t: PyTree) => flatten(t).leaves.map(dataOf);
  type S = { count: number; slow: Float64Array[]; inner: unknown; atSync: unknown; n: number; nu: Float64Array[] };
  return {
    init: (params) => {
      const inner0 = inner.init(params);
      const slow = leavesOf(params).map((a) => Float64Array.from(a));
      return { count: 0, slow, inner: inner0, atSync: inner0, n: 0, nu: slow.map((a) => new Float64Array(a.length)) };
    },
    update(updates, state, params) {
      const s = state as S;
      const g = leavesOf(updates);
      const [u, innerNext] = inner.update(updates, s.inner, params);
      const n = s.n + 1;
      const nu = s.nu.map((a, i) => a.map((v, j) => (1 - b) * (g[i]![j]! * g[i]![j]!) + b * v));
      const count = s.count + 1;
      if (count % o.syncPeriod !== 0) return [u, { ...s, count, inner: innerNext, n, nu }];
      const us = leavesOf(u);
      const ps = leavesOf(params!);
      let alpha = o.alpha as number;
      if (o.alpha === "adaptive") {
        // 1 - b^n, written as optax and the docs do to keep its low digits: -expm1(n log b).
        const correction = o.curvature === undefined ? -Math.expm1(n * Math.log(b)) : 1;
        const a = o.curvature === undefined ? nu.map((x) => x.map((v) => v / correction)) : leavesOf(o.curvature);
        let gd = 0;
        let dad = 0;
        ps.forEach((p, i) =>
          p.forEach((pj, j) => {
            const d = s.slow[i]![j]! - (pj + us[i]![j]!);
            gd += (g[i]![j]! + a[i]![j]! * us[i]![j]!) * d;
            dad += d * a[i]![j]! * d;
          }),
        );
        const estimate = dad > 0 && Number.isFinite(dad) ? 1 + gd / dad : NaN;
        alpha = Number.isFinite(estimate) ? Math.min(Math.max(estimate, o.alphaLow ?? 0.1), 1) : 1;
      }
      const v = ps.map((p, i) => p.map((pj, j) => s.slow[i]![j]! + alpha * (pj + us[i]![j]! - s.slow[i]![j]!) - pj));
      const slow = ps.map((p, i) => p.map((pj, j) => pj + v[i]![j]!));
      const moved = o.innerState === "interpolate" ? interpolated(s.atSync, innerNext, alpha) : innerNext;
      const flat = flatten(updates);
      const out = unflatten(
        flat.def,
        flat.leaves.map((leaf, i) => asLeafLike(leaf, v[i]!)),
      );
      return [out, { count, slow, inner: moved, atSync: o.innerState === "interpolate" ? moved : s.atSync, n, nu }];
    },
  };
}

/** A positive curvature shaped like `params` (their dtypes and kinds). */
function curvatureLike(params: PyTree): PyTree {
  const flat = flatten(params);
  return unflatten(
    flat.def,
    flat.leaves.map((leaf) =>
      asLeafLike(
        leaf,
        dataOf(leaf).map((x, j) => 0.5 + Math.abs(x) + (j % 3)),
      ),
    ),
  );
}

describe("Lookahead's interpolated inner state and adaptive alpha as executor paths", () => {
  type Make = (params: PyTree) => GradientTransformation;
  const variants: [string, Make][] = [
    ["interpolate", () => G(lookahead(adam(0.1), { syncPeriod: 2, alpha: 0.6, innerState: "interpolate" }))],
    [
      "adaptive",
      () => G(lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2, alpha: "adaptive", curvatureDecay: 0.9 })),
    ],
    [
      "adaptive with a given curvature",
      (params) =>
        G(lookahead(adam(0.1), { syncPeriod: 3, alpha: "adaptive", alphaLow: 0, curvature: curvatureLike(params) })),
    ],
    [
      "adaptive and interpolate, after a clip (the gradient is the clip's output)",
      () =>
        G(
          chain(
            clipByGlobalNorm(0.5),
            lookahead(adam(0.1), { syncPeriod: 2, alpha: "adaptive", innerState: "interpolate" }),
          ),
        ),
    ],
    [
      "nested: adaptive around interpolate",
      () =>
        G(
          lookahead(lookahead(adam(0.1), { syncPeriod: 2, innerState: "interpolate" }), {
            syncPeriod: 3,
            alpha: "adaptive",
          }),
        ),
    ],
    ["in a mask", () => G(masked(lookahead(adam(0.1), { syncPeriod: 2, alpha: "adaptive" }), even))],
  ];

  it("gives the same bits on both backends, donated or not", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 7 }), fc.constantFrom(...variants), (problem, [name, make]) => {
        expectSameOnBackends(() => make(problem.params), problem, name);
      }),
      { numRuns: 60 },
    );
  });

  it("compiled, gives the pure path's bits", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 7 }), fc.constantFrom(...variants), (problem, [name, make]) => {
        const tx = make(problem.params);
        const compiled = compile(tx, problem.params);
        const pure = run(() => tx, problem);
        problem.grads.forEach((g, t) => {
          compiled.step(g);
          expect(fingerprint(flatten(compiled.params).leaves.map(dataOf)), `${name}: params at step ${t + 1}`).toBe(
            pure.steps[t]!.params,
          );
        });
      }),
      { numRuns: 30 },
    );
  });

  it("refuses to interpolate an inner state nested deeper than MAX_DEPTH (BAD_STATE, not a stack overflow)", () => {
    let deep: unknown = Float64Array.of(1);
    for (let i = 0; i <= MAX_DEPTH; i++) deep = { next: deep };
    const inner: GradientTransformation<unknown> = { init: () => deep, update: (u, s) => [u, s] };
    const tx = lookahead(inner, { syncPeriod: 1, innerState: "interpolate" });
    const p = Float64Array.of(1);
    expect(() => tx.update(Float64Array.of(1), tx.init(p), p)).toThrowError(
      expect.objectContaining({ code: "BAD_STATE", message: expect.stringMatching(/nested deeper than/) }),
    );
  });

  it("moves the inner state as the paper's algorithm written out by hand, bit for bit (float64)", () => {
    fc.assert(
      fc.property(
        arbitraryProblem({ maxSteps: 7, dtypes: ["float64"] }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (problem, alpha) => {
          const o = { syncPeriod: 2, alpha, innerState: "interpolate" as const };
          expectSameRun(
            run(() => G(lookahead(adam(0.1), o)), problem),
            run(() => lookaheadByHand(adam(0.1), o), problem),
            "interpolate",
            false,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it("chooses alpha as the paper's algorithm written out by hand (float64; the sums' order differs)", () => {
    fc.assert(
      fc.property(
        arbitraryProblem({ maxSteps: 9, dtypes: ["float64"] }),
        fc.boolean(),
        fc.boolean(),
        (problem, given, clipped) => {
          const o: HandOptions = {
            syncPeriod: 3,
            alpha: "adaptive",
            alphaLow: 0,
            curvatureDecay: 0.9,
            ...(given ? { curvature: curvatureLike(problem.params) } : {}),
          };
          const inner = () => G(sgd(0.1, { momentum: 0.9 }));
          // Behind a clip, the gradient Lookahead sees is the clip's output.
          const wrap = (tx: GradientTransformation) => (clipped ? G(chain(clipByGlobalNorm(0.5), tx)) : tx);
          const ours = runProblemParams(wrap(G(lookahead(inner(), o))), problem);
          const theirs = runProblemParams(wrap(lookaheadByHand(inner(), o)), problem);
          ours.forEach((p, t) =>
            expectClose(p, theirs[t]!, 1e-9 * (1 + Math.max(...values(theirs[t]!).map(Math.abs))), `step ${t + 1}`),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("adaptive alpha behind a clip", () => {
  it("reads the gradient Lookahead is given (the clip's output), at every step and at the sync", () => {
    const o: HandOptions = { syncPeriod: 3, alpha: "adaptive", alphaLow: 0, curvatureDecay: 0.9 };
    const ours = G(chain(clipByGlobalNorm(0.5), lookahead(sgd(0.1, { momentum: 0.9 }), o)));
    const theirs = G(chain(clipByGlobalNorm(0.5), lookaheadByHand(G(sgd(0.1, { momentum: 0.9 })), o)));
    // Norms of 2 to 6: the clip scales every gradient.
    const problem: Problem = {
      params: Float64Array.of(1, -2, 3),
      grads: Array.from({ length: 9 }, (_, t) => Float64Array.of(5 * Math.sin(t), 3 * Math.cos(t), 2)),
    };
    const [a, b] = [runProblemParams(ours, problem), runProblemParams(theirs, problem)];
    a.forEach((p, t) => expectClose(p, b[t]!, 1e-12, `step ${t + 1}`));
    // Not vacuous: a sync whose alpha was not clipped, so that the gradient's scale mattered.
    let state = ours.init(problem.params);
    let params: PyTree = problem.params;
    const alphas: number[] = [];
    problem.grads.forEach((g, t) => {
      const [u, next] = ours.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
      if ((t + 1) % 3 === 0) alphas.push((state as [unknown, { adaptive: { alpha: number } }])[1].adaptive.alpha);
    });
    expect(alphas.some((x) => x > 0 && x < 1)).toBe(true);
  });
});

/** The params after each step. */
function runProblemParams(tx: GradientTransformation, problem: Problem): PyTree[] {
  const out: PyTree[] = [];
  let params = problem.params;
  let state = tx.init(params);
  for (const g of problem.grads) {
    const [u, next] = tx.update(g, state, params);
    params = applyUpdates(params, u);
    state = next;
    out.push(params);
  }
  return out;
}

describe("many leaves: a run of leaves goes to the backend as one table", () => {
  // A run of more float32 leaves than a table holds (256 entries), of lengths 0 to 36 (a leaf of
  // none, leaves shorter than a vector, many to a chunk), then float64 ones and two past a block
  // and a chunk.
  const lengths = [...Array.from({ length: 300 }, (_, i) => i % 37), 4097, 16500];
  const tree = (seed: number): PyTree =>
    Object.fromEntries(
      lengths.map((n, i) => {
        const x = Float64Array.from({ length: n }, (_, j) => Math.sin(seed + 31 * i + j));
        return [`w${String(i).padStart(3, "0")}`, i >= 280 && i % 2 === 0 ? x : Float32Array.from(x)];
      }),
    );
  const problem: Problem = { params: tree(1), grads: [2, 3, 4, 5].map(tree) };
  const make = () => G(chain(clipByGlobalNorm(1), lookahead(adam(0.01), { syncPeriod: 3, alpha: 0.5 })));

  it("gives the same bits on both backends, donated or not, and compiled", () => {
    expectSameOnBackends(make, problem, "clip + Lookahead(Adam) over 302 leaves");
    const pure = run(make, problem);
    for (const threads of [1, 2]) {
      const compiled = compile(make(), problem.params, { threads });
      problem.grads.forEach((g, t) => {
        compiled.step(g);
        expect(fingerprint(flatten(compiled.params).leaves.map(dataOf)), `${threads} threads: step ${t + 1}`).toBe(
          pure.steps[t]!.params,
        );
      });
      compiled.dispose();
    }
  });

  it("compiled on 2 threads, more tiny leaves than a table region holds keep the pure path's bits", () => {
    // 3,000 leaves of 1 to 4 elements: more entries than the region's 16,384 words hold.
    const tiny = (seed: number): PyTree =>
      Object.fromEntries(
        Array.from({ length: 3000 }, (_, i) => [
          `w${String(i).padStart(4, "0")}`,
          Float32Array.from({ length: 1 + (i % 4) }, (_, j) => Math.sin(seed + 7 * i + j)),
        ]),
      );
    const small: Problem = { params: tiny(1), grads: [2, 3, 4].map(tiny) };
    const make = () => G(chain(clipByGlobalNorm(1), adam(0.01)));
    const pure = run(make, small);
    const compiled = compile(make(), small.params, { threads: 2 });
    small.grads.forEach((g, t) => {
      compiled.step(g);
      expect(fingerprint(flatten(compiled.params).leaves.map(dataOf)), `step ${t + 1}`).toBe(pure.steps[t]!.params);
    });
    compiled.dispose();
  });

  it("scalars that differ from leaf to leaf (lamb's trust ratio) go in one table, each leaf its own, on every path", () => {
    // More leaves than a table holds, each with its own ratio: a leaf given another's would
    // differ from the same leaf trained alone.
    const make = () => G(lookahead(lamb(0.01, { weightDecay: 0.1 }), { syncPeriod: 3 }));
    expectSameOnBackends(make, problem, "lamb over 302 leaves");
    const pure = run(make, problem);
    const keys = Object.keys(problem.params as object);
    const alone = keys.map((key) => {
      const leafOf = (tree: PyTree): PyTree => ({ [key]: (tree as Record<string, FloatArray>)[key]! });
      return run(make, { params: leafOf(problem.params), grads: problem.grads.map(leafOf) }).steps.map((s) => s.params);
    });
    for (const threads of [1, 2]) {
      const compiled = compile(make(), problem.params, { threads });
      problem.grads.forEach((g, t) => {
        compiled.step(g);
        const params = flatten(compiled.params).leaves.map(dataOf);
        expect(fingerprint(params), `${threads} threads: step ${t + 1}`).toBe(pure.steps[t]!.params);
        params.forEach((leaf, i) =>
          expect(fingerprint([leaf]), `${threads} threads: leaf ${i}, step ${t + 1}`).toBe(alone[i]![t]),
        );
      });
      compiled.dispose();
    }
  });

  it("a weight decay's flags per leaf, all alike or mixed, give each leaf its own: the tree equals each leaf alone", () => {
    const keys = Object.keys(problem.params as object);
    // Leaves that share their flags go to the backend together; the decay must still reach
    // exactly the leaves its mask names, on every path.
    const masks = [undefined, (path: string) => Number(path.slice(1)) % 3 !== 0, (path: string) => path < "w150"];
    for (const mask of masks) {
      const make = () => G(chain(adam(0.01), addDecayedWeights(0.1, mask === undefined ? {} : { mask }), scale(-0.01)));
      expectSameOnBackends(make, problem, mask === undefined ? "decay without a mask" : "decay with a mixed mask");
      const pure = run(make, problem);
      const alone = keys.map((key) => {
        const leafOf = (tree: PyTree): PyTree => ({ [key]: (tree as Record<string, FloatArray>)[key]! });
        const decays = mask === undefined || mask(key);
        const one = run(() => G(chain(adam(0.01), addDecayedWeights(0.1, { mask: decays }), scale(-0.01))), {
          params: leafOf(problem.params),
          grads: problem.grads.map(leafOf),
        });
        return one.steps.map((s) => s.params);
      });
      for (const threads of [1, 2]) {
        const compiled = compile(make(), problem.params, { threads });
        problem.grads.forEach((g, t) => {
          compiled.step(g);
          const params = flatten(compiled.params).leaves.map(dataOf);
          const label = `mask ${masks.indexOf(mask)}, ${threads} threads`;
          params.forEach((leaf, i) =>
            expect(fingerprint([leaf]), `${label}: leaf ${i}, step ${t + 1}`).toBe(alone[i]![t]),
          );
          expect(fingerprint(params), `${label}: step ${t + 1}`).toBe(pure.steps[t]!.params);
        });
        compiled.dispose();
      }
    }
  });

  it("runs each leaf as if alone: Adam over the tree equals Adam over each leaf by itself", () => {
    /** The params after every gradient of `grads`, as their arrays. */
    const trained = (params: PyTree, grads: readonly PyTree[]): FloatArray[] => {
      const tx = G(adam(0.01));
      let [p, s] = [params, tx.init(params)];
      for (const g of grads) {
        const [u, next] = tx.update(g, s, p);
        [p, s] = [applyUpdates(p, u), next];
      }
      return flatten(p).leaves.map(dataOf);
    };
    const leafOf = (tree: PyTree, key: string): PyTree => ({ [key]: (tree as Record<string, FloatArray>)[key]! });
    const keys = Object.keys(problem.params as object);
    const alone = keys.flatMap((key) =>
      trained(
        leafOf(problem.params, key),
        problem.grads.map((g) => leafOf(g, key)),
      ),
    );
    expect(fingerprint(trained(problem.params, problem.grads))).toBe(fingerprint(alone));
  });
});

describe("the executor's core: checks, the very same arrays, barriers, and applying in place", () => {
  /** A user's own transformation (an opaque barrier to the executor) that maps each update's elements. */
  const own = (f: (u: PyTree) => PyTree): GradientTransformation => ({ init: () => ({}), update: (u, s) => [f(u), s] });

  it("advances a kernel's count without slots: scaleBySchedule((t) => t + 1) scales by 1, 2, 3 (optax counts from 0)", () => {
    const tx = scaleBySchedule((t) => t + 1);
    const g = Float64Array.of(1);
    let state = tx.init(g);
    const out: number[] = [];
    for (let t = 0; t < 3; t++) {
      const [u, next] = tx.update(g, state);
      out.push(...values(u));
      state = next;
    }
    expect(out).toEqual([1, 2, 3]);
    expect(state.count).toBe(3);
  });

  it("advances a kernel's slots without a count: trace(0.9) gives 1, then 1 + 0.9 * 1", () => {
    const tx = trace(0.9);
    const g = Float64Array.of(1);
    const [u1, s1] = tx.update(g, tx.init(g));
    const [u2] = tx.update(g, s1);
    expect([...values(u1), ...values(u2)]).toEqual([1, 1 + 0.9 * 1]);
  });

  it("freezes the trees of a state, and a donated step carries a tree it wrote in place into the next state", () => {
    const tx = adam(0.1);
    const p = { w: Float32Array.of(1, 2), m: ndarray(new Float64Array(4), [2, 2]) };
    const g = { w: Float32Array.of(0.5, -1), m: ndarray(Float64Array.of(1, 2, 3, 4), [2, 2]) };
    const [, s1] = tx.update(g, tx.init(p), p);
    const mu = (s: unknown) => (s as [{ mu: { w: Float32Array; m: { shape: number[] } } }])[0].mu;
    expect(Object.isFrozen(mu(s1))).toBe(true);
    expect(Object.isFrozen(mu(s1).m)).toBe(true);
    expect(Object.isFrozen(mu(s1).m.shape)).toBe(true);
    expect(() => {
      (mu(s1) as { w: unknown }).w = new Float32Array(2);
    }).toThrow(TypeError);
    // The first donated step moves the state into an arena; the next one writes it in place.
    const [, moved] = tx.update(g, donate(s1), p);
    const [, s2] = tx.update(g, donate(moved), p);
    expect(mu(s2)).toBe(mu(moved));
    // Not donated: a new tree over new arrays, the old one untouched.
    const before = fingerprint(s2);
    const [, s3] = tx.update(g, s2, p);
    expect(mu(s3)).not.toBe(mu(s2));
    expect(fingerprint(s2)).toBe(before);
    // A state the executor did not build (a copy, as a checkpoint gives) comes back frozen.
    const copy = structuredClone(s3);
    const [, s4] = tx.update(g, copy, p);
    const shapes = (s: unknown) => (s as [unknown, { shapes: unknown }])[1].shapes;
    expect(Object.isFrozen(copy[1])).toBe(false);
    expect(Object.isFrozen(shapes(s4))).toBe(true);
    expect(fingerprint(shapes(s4))).toBe(fingerprint(shapes(copy)));
  });

  it("gives a stateless kernel a fresh record of the same shapes each step (a donated state is spent)", () => {
    const tx = scale(2);
    const g = Float64Array.of(1);
    const state = tx.init(g);
    const next = tx.update(g, state)[1];
    expect(next).not.toBe(state);
    expect(next).toEqual(state);
    expect(next.shapes).toBe(state.shapes);
  });

  it("refuses to run a kernel that reads the params without them (MISSING_PARAMS)", () => {
    const tx = addDecayedWeights(0.1);
    const g = Float64Array.of(1);
    expect(() => tx.update(g, tx.init(g))).toThrowError(expect.objectContaining({ code: "MISSING_PARAMS" }));
  });

  it("refuses a chain state that is not an array of one state per part (BAD_STATE)", () => {
    const tx = chain(scale(2), trace(0.9));
    const g = Float64Array.of(1);
    const [first] = tx.init(g);
    for (const bad of [[first], [first, tx.init(g)[1], first], { 0: first, 1: first }, null])
      expect(() => tx.update(g, bad as never)).toThrowError(expect.objectContaining({ code: "BAD_STATE" }));
  });

  it("refuses params of another structure than the updates (SHAPE_MISMATCH), for kernels that do not even read them", () => {
    const tx = scale(2);
    const g = { a: Float64Array.of(1), b: Float64Array.of(2) };
    expect(() => tx.update(g, tx.init(g), { a: Float64Array.of(1), b: Float64Array.of(2, 3) })).toThrowError(
      expect.objectContaining({ code: "SHAPE_MISMATCH" }),
    );
  });

  it("refuses an opaque transformation that returns updates of another structure (SHAPE_MISMATCH)", () => {
    const tx = chain(
      scale(2),
      own(() => Float64Array.of(1, 2, 3)),
    );
    const g = Float64Array.of(1, 2);
    expect(() => tx.update(g, tx.init(g))).toThrowError(expect.objectContaining({ code: "SHAPE_MISMATCH" }));
  });

  it("gives an opaque transformation after a kernel ndarray leaves of the grads' shape: [[1, 2], [3, 4]] doubled", () => {
    const shapes: number[][] = [];
    const tx = chain(
      scale(2),
      own((u) => {
        const w = (u as unknown as { w: { shape: number[] } }).w;
        shapes.push(w.shape);
        return u;
      }),
    );
    const g = { w: ndarray(Float64Array.of(1, 2, 3, 4), [2, 2]) };
    const [u] = tx.update(g, tx.init(g));
    expect(shapes).toEqual([[2, 2]]);
    expect(values(u)).toEqual([2, 4, 6, 8]);
  });

  it("returns the updates' own leaf objects where no kernel changed them, and the very same tree where none changed", () => {
    const g = { a: Float64Array.of(1), b: Float64Array.of(2) };
    const half = masked(scale(2), { a: true, b: false });
    const [u] = half.update(g, half.init(g)) as unknown as [{ a: Float64Array; b: Float64Array }];
    expect(Array.from(u.a)).toEqual([2]);
    expect(u.b).toBe(g.b);
    const none = chain(clipByGlobalNorm(10), masked(scale(2), { a: false, b: false }));
    expect(none.update(g, none.init(g))[0]).toBe(g);
  });

  it("passes an opaque transformation the caller's own ndarray leaf where no kernel changed it, and returns it as it is", () => {
    const seen: unknown[] = [];
    const tx = chain(
      own((u) => (seen.push((u as unknown as { w: unknown }).w), u)),
      masked(scale(2), { w: false, b: true }),
    );
    const g = { w: ndarray(Float64Array.of(1, 2, 3, 4), [2, 2]), b: Float64Array.of(1) };
    const [u] = tx.update(g, tx.init(g)) as unknown as [{ w: unknown; b: Float64Array }];
    expect(seen[0]).toBe(g.w);
    expect(u.w).toBe(g.w);
    expect(Array.from(u.b)).toEqual([2]);
  });

  it("shows an opaque transformation inside masked only the selected leaves, the others as null", () => {
    const seen: unknown[] = [];
    const tx = masked(
      own((u) => (seen.push(u), u)),
      { a: true, b: false },
    );
    const g = { a: Float64Array.of(1), b: Float64Array.of(2) };
    tx.update(g, tx.init(g));
    expect(seen).toEqual([{ a: Float64Array.of(1), b: null }]);
  });

  it("with apply, adds the updates to the params in place and returns null: sgd(0.1) from [1, 2] with g = [1, 1] gives [0.9, 1.9]", () => {
    const tx = sgd(0.1) as Transformation;
    const p = Float64Array.of(1, 2);
    const [u] = updateNode(tx.node, Float64Array.of(1, 1), tx.init(p), p, { apply: true });
    expect(u).toBeNull();
    expect(Array.from(p)).toEqual([1 - 0.1, 2 - 0.1]);
  });

  it("with apply after an opaque transformation, still adds its updates: chain(scale(-0.1), own doubling) gives p - 0.2 g", () => {
    const tx = chain(
      scale(-0.1),
      own((u) => Float64Array.from(values(u), (v) => 2 * v)),
    ) as Transformation;
    const p = Float64Array.of(1, 2);
    const [u] = updateNode(tx.node, Float64Array.of(1, 1), tx.init(p), p, { apply: true });
    expect(u).toBeNull();
    // -0.1 * 1 = -0.1 exactly as a double; doubled, -0.2; 1 - 0.2 and 2 - 0.2 in float64.
    expect(Array.from(p)).toEqual([1 - 0.2, 2 - 0.2]);
  });

  it("with apply and no ops at all (an empty chain), the params still get the updates: [1, 2] + [0.5, 0.25]", () => {
    const tx = chain() as Transformation;
    const p = Float64Array.of(1, 2);
    const [u] = updateNode(tx.node, Float64Array.of(0.5, 0.25), tx.init(p), p, { apply: true });
    expect(u).toBeNull();
    expect(Array.from(p)).toEqual([1.5, 2.25]);
  });

  it("without params, apply has nothing to add to and the updates are returned", () => {
    const tx = scale(2) as Transformation;
    const g = Float64Array.of(1, 2);
    const [u] = updateNode(tx.node, g, tx.init(g), undefined, { apply: true });
    expect(values(u)).toEqual([2, 4]);
  });
});
