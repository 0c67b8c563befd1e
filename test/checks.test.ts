/**
 * Every update checks its inputs, for every transformation, stateless ones included: the grads,
 * the params and the state must share the structure, the leaf lengths and the ndarray shapes the
 * state was made for. The state remembers them (its trees keep the params' shapes; a part with
 * no tree keeps a record of them), so the check holds without the params too.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  addDecayedWeights,
  adam,
  chain,
  clip,
  clipByBlockRms,
  clipByGlobalNorm,
  GradTxError,
  identity,
  injectHyperparams,
  lookahead,
  masked,
  applyIfFinite,
  multiSteps,
  scale,
  scaleBySchedule,
  sgd,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { catalogue } from "./catalogue.js";

const G = (tx: unknown) => tx as GradientTransformation;

/** The error `thunk` throws (it must throw a GradTxError). */
function caught(thunk: () => unknown): GradTxError {
  try {
    thunk();
  } catch (e) {
    if (e instanceof GradTxError) return e;
    throw new Error(`threw ${String(e)} instead of a GradTxError`, { cause: e });
  }
  throw new Error("accepted the input");
}

const params = () => ({ w: ndarray(new Float64Array(6).fill(0.5), [2, 3]), b: Float32Array.of(1, 2, 3) });
const grads = () => ({ w: ndarray(new Float64Array(6).fill(0.25), [2, 3]), b: Float32Array.of(0.5, 0.5, 0.5) });

/** Everything: the catalogue, and the stateless transformations on their own. */
const everything: readonly (readonly [string, () => GradientTransformation])[] = [
  ...catalogue.map((entry) => [entry.name, () => entry.make(entry.lr)] as const),
  ["sgd without momentum", () => G(sgd(0.1))],
  ["scale", () => G(scale(2))],
  ["identity", () => G(identity())],
  ["clip", () => G(clip(1))],
  ["clipByGlobalNorm", () => G(clipByGlobalNorm(1))],
  ["clipByBlockRms", () => G(clipByBlockRms(1))],
  ["scaleBySchedule", () => G(scaleBySchedule((t) => 1 / (t + 1)))],
  ["addDecayedWeights", () => G(addDecayedWeights(0.1))],
  ["chain(scale, clip)", () => G(chain(scale(2), clip(1)))],
];

describe("the state remembers the params' structure and shapes, and every step checks them", () => {
  // Grads and params that agree with each other, but not with the state: only the state can tell.
  const transposed = () => ({
    grads: { w: ndarray(new Float64Array(6), [3, 2]), b: Float32Array.of(0.5, 0.5, 0.5) },
    params: { w: ndarray(new Float64Array(6), [3, 2]), b: Float32Array.of(1, 2, 3) },
  });

  it.each(everything)("%s: an ndarray of the other shape, at any step, is SHAPE_MISMATCH at its path", (_, make) => {
    const tx = make();
    let p: PyTree = params();
    let state: unknown = tx.init(p);
    for (let t = 0; t < 3; t++) {
      const bad = transposed();
      const error = caught(() => tx.update(bad.grads, state, bad.params));
      expect(error.code).toBe("SHAPE_MISMATCH");
      expect(error.path).toBe("w");
      expect(error.message).toMatch(/expected shape \[2,3\], got \[3,2\]/);
      const step: readonly [PyTree, unknown] = tx.update(grads(), state, p);
      p = tree.add(p, step[0]);
      state = step[1];
    }
  });

  it.each(everything)("%s: other keys are STRUCTURE_MISMATCH, another length SHAPE_MISMATCH", (_, make) => {
    const tx = make();
    const state = tx.init(params());
    const keys = { grads: { v: grads().w, b: grads().b }, params: { v: params().w, b: params().b } };
    expect(caught(() => tx.update(keys.grads, state, keys.params)).code).toBe("STRUCTURE_MISMATCH");
    const longer = { grads: { ...grads(), b: new Float32Array(4) }, params: { ...params(), b: new Float32Array(4) } };
    const error = caught(() => tx.update(longer.grads, state, longer.params));
    expect([error.code, error.path, error.message]).toEqual(["SHAPE_MISMATCH", "b", "b: expected length 3, got 4"]);
  });

  it.each(everything)(
    "%s: after a step too, when the state's trees are the executor's own (remembered, frozen)",
    (_, make) => {
      const tx = make();
      const [, state] = tx.update(grads(), tx.init(params()), params());
      const keys = { grads: { v: grads().w, b: grads().b }, params: { v: params().w, b: params().b } };
      expect(caught(() => tx.update(keys.grads, state, keys.params)).code).toBe("STRUCTURE_MISMATCH");
      const longer = { grads: { ...grads(), b: new Float32Array(4) }, params: { ...params(), b: new Float32Array(4) } };
      expect(caught(() => tx.update(longer.grads, state, longer.params)).code).toBe("SHAPE_MISMATCH");
      // The same step again still runs: a refused call leaves the state as it was.
      expect(() => tx.update(grads(), state, params())).not.toThrow();
    },
  );

  it("without the params too: a stateless transformation checks the grads against its record", () => {
    for (const tx of [G(scale(2)), G(clipByGlobalNorm(1)), G(sgd(0.1)), G(adam(0.1))]) {
      const state = tx.init(params());
      expect(caught(() => tx.update(transposed().grads, state)).code).toBe("SHAPE_MISMATCH");
      expect(caught(() => tx.update({ v: grads().w, b: grads().b }, state)).code).toBe("STRUCTURE_MISMATCH");
      // A typed array of the same length stands for an ndarray, as it does against the params.
      expect(() => tx.update({ w: new Float64Array(6), b: grads().b }, state)).not.toThrow();
    }
  });

  it("any shape swap of a random 2-D leaf is refused by sgd, scale, clipByGlobalNorm and adam", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(G(sgd(0.1)), G(scale(2)), G(clipByGlobalNorm(1)), G(adam(0.1))),
        (rows, cols, tx) => {
          fc.pre(rows !== cols);
          const p = { w: ndarray(new Float32Array(rows * cols), [rows, cols]) };
          const swapped = { w: ndarray(new Float32Array(rows * cols), [cols, rows]) };
          const state = tx.init(p);
          expect(caught(() => tx.update(swapped, state)).message).toBe(
            `w: expected shape [${rows},${cols}], got [${cols},${rows}]`,
          );
          expect(() => tx.update(p, state, p)).not.toThrow();
        },
      ),
    );
  });
});

describe("lookahead checks on every step, not only at syncs", () => {
  it.each([0, 1, 2, 3, 4])("after %i good steps of five, grads and params of another structure throw", (good) => {
    const tx = G(lookahead(sgd(0.1), { syncPeriod: 5 }));
    let p: PyTree = { a: Float64Array.of(1, 2) };
    let state: unknown = tx.init(p);
    for (let t = 0; t < good; t++) {
      const step: readonly [PyTree, unknown] = tx.update({ a: Float64Array.of(1, 1) }, state, p);
      p = tree.add(p, step[0]);
      state = step[1];
    }
    const other = { b: Float64Array.of(1, 2, 3) };
    expect(caught(() => tx.update(other, state, other)).code).toBe("STRUCTURE_MISMATCH");
    const longer = { a: Float64Array.of(1, 2, 3) };
    expect(caught(() => tx.update(longer, state, longer)).code).toBe("SHAPE_MISMATCH");
  });
});

describe("malformed ndarray leaves are NOT_A_PYTREE, with the path", () => {
  const malformed: readonly (readonly [string, () => unknown, RegExp])[] = [
    [
      "a shape reaching past .data",
      () => ndarray(new Float64Array(2), [5]),
      /shape \[5\], stride \[1\] and offset 0 reach elements 0\.\.4 of data of length 2/,
    ],
    ["a stride reaching past .data", () => ndarray(new Float64Array(4), [2, 2], [3, 1]), /reach elements 0\.\.4/],
    ["an offset reaching past .data", () => ndarray(new Float64Array(4), [4], [1], 1), /reach elements 1\.\.4/],
    ["a negative offset", () => ndarray(new Float64Array(4), [2], [-1], 0), /reach elements -1\.\.0/],
    [
      "a non-integer offset",
      () => ({ data: new Float64Array(4), shape: [2], stride: [1], offset: 0.5 }),
      /offset 0\.5 is not an integer/,
    ],
    ["a non-integer stride", () => ndarray(new Float64Array(4), [2], [1.5], 0), /stride 1\.5 .* not an integer/],
    [
      "strides of another rank",
      () => ({ data: new Float64Array(4), shape: [2, 2], stride: [1], offset: 0 }),
      /shape \[2,2\] has 2 dimensions, stride has 1/,
    ],
    [
      "a negative dimension",
      () => ({ data: new Float64Array(4), shape: [-2], stride: [1], offset: 0 }),
      /dimension 0 of shape \[-2\] is not a non-negative integer/,
    ],
  ];
  const uses: readonly (readonly [string, (x: PyTree) => unknown])[] = [
    ["init", (x) => adam(0.1).init(x)],
    ["update", (x) => scale(1).update(x, scale(1).init({ layers: [{ w: new Float64Array(2) }] }))],
    ["tree.globalNorm", (x) => tree.globalNorm(x)],
  ];
  it.each(malformed)("%s", (_, leaf, message) => {
    for (const [use, run] of uses) {
      const error = caught(() => run({ layers: [{ w: leaf() as PyTree }] }));
      expect([use, error.code, error.path]).toEqual([use, "NOT_A_PYTREE", "layers[0].w"]);
      expect(error.message).toMatch(message);
    }
  });

  it("well-formed strided views are leaves: a transposed view, a reversed one, an empty one", () => {
    const data = Float64Array.of(1, 2, 3, 4, 5, 6);
    const transposed = ndarray(data, [2, 3]).transpose(1, 0);
    const reversed = ndarray(data, [6]).step(-1);
    const empty = ndarray(new Float64Array(0), [0, 3]);
    expect(tree.globalNorm({ transposed, reversed, empty })).toBeCloseTo(Math.sqrt(2 * 91), 12);
  });
});

describe("a state of another transformation is BAD_STATE at its path inside the state", () => {
  it("names the path, the keys expected and the keys found", () => {
    const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.1)));
    const other = chain(clipByGlobalNorm(1), lookahead(sgd(0.1)));
    const p = { w: Float64Array.of(1, 2) };
    const error = caught(() => tx.update(p, other.init(p) as never, p));
    expect(error.code).toBe("BAD_STATE");
    expect(error.path).toBe("[1].inner[0]");
    expect(error.message).toMatch(/expected keys \[count,mu,nu\], found \[shapes\]/);
  });

  // multiSteps reads its inner state on the steps the inner optimizer runs (every one with k = 1).
  it.each([
    ["masked", ".inner", masked(adam(0.1), { w: true })],
    ["applyIfFinite", ".inner", applyIfFinite(adam(0.1), 3)],
    ["multiSteps", ".inner", multiSteps(adam(0.1), 1)],
    ["injectHyperparams", ".inner", injectHyperparams((h) => adam(h.lr), { lr: 0.1 })],
  ] as const)("inside %s: the path goes through %s", (_, inner, wrapper) => {
    const tx = chain(scale(1), G(wrapper));
    const p = { w: Float64Array.of(1, 2) };
    const state = tx.init(p) as [unknown, Record<string, unknown>];
    const swapped = [state[0], { ...state[1], inner: scale(1).init(p) }];
    const error = caught(() => tx.update(p, swapped as never, p));
    expect([error.code, error.path]).toEqual(["BAD_STATE", `[1]${inner}`]);
  });
});

describe("chain refuses a Lookahead that is not its last part, at construction", () => {
  it.each([
    ["first of two", () => chain(lookahead(adam(0.1)), scale(0.5)), 0],
    ["second of three", () => chain(scale(1), lookahead(sgd(0.1)), clip(1)), 1],
    ["inside a chain", () => chain(chain(scale(1), lookahead(sgd(0.1))), scale(0.5)), 0],
    ["inside masked", () => chain(masked(lookahead(sgd(0.1)), { w: true }), scale(0.5)), 0],
    ["inside applyIfFinite", () => chain(applyIfFinite(lookahead(sgd(0.1)), 3), scale(0.5)), 0],
  ] as const)("%s: INVALID_HYPERPARAMETER naming the position", (_, build, position) => {
    const error = caught(build);
    expect(error.code).toBe("INVALID_HYPERPARAMETER");
    expect(error.message).toMatch(new RegExp(`^chain: argument ${position} is \\(or holds\\) a lookahead`));
  });

  it("accepts it last, and followed by parts that leave every update as it is", () => {
    const p = { w: Float64Array.of(1, 2) };
    for (const tx of [
      chain(clipByGlobalNorm(1), lookahead(adam(0.1))),
      chain(lookahead(sgd(0.1)), identity()),
      chain(lookahead(sgd(0.1)), chain(identity(), identity())),
    ]) {
      const [u] = G(tx).update({ w: Float64Array.of(1, 1) }, G(tx).init(p), p);
      expect(tree.allFinite(u)).toBe(true);
    }
  });
});

describe("the updates come back in the grads' dtype, whatever the params' dtype", () => {
  // float32 grads with float64 params compute in float64 and round the updates to float32 once.
  it.each([
    [
      "a last part that changes nothing (a clip below its threshold)",
      () => chain(scale(2), clipByGlobalNorm(1e9)),
      false,
    ],
    ["a last part that changes the updates", () => chain(clipByGlobalNorm(1e9), scale(2)), false],
    ["a reducing last part that clips", () => chain(scale(2), clipByGlobalNorm(0.5)), true],
  ] as const)("%s", (_, build, clips) => {
    const tx = G(build());
    const p = { w: Float64Array.of(1, 2) };
    const g = { w: Float32Array.of(0.1, 0.3) };
    const [u] = tx.update(g, tx.init(p), p);
    const w = (u as { w: Float32Array }).w;
    expect(w).toBeInstanceOf(Float32Array);
    // By hand, in float64: 2 g (norm 0.632...), then (optax's clip) (2 g / norm) * 0.5 where it clips.
    const two = [2 * Math.fround(0.1), 2 * Math.fround(0.3)];
    const norm = Math.hypot(two[0]!, two[1]!);
    const expected = clips ? two.map((v) => (v / norm) * 0.5) : two;
    expect(Array.from(w)).toEqual(expected.map(Math.fround));
  });
});

describe("look-alike leaves", () => {
  it("an object whose prototype is a typed array is not a leaf: NOT_A_PYTREE, not a TypeError", () => {
    const fake = Object.create(Float32Array.of(0, 0, 0)) as Float32Array;
    const error = caught(() => adam(0.1).init({ w: fake }));
    expect([error.code, error.path]).toEqual(["NOT_A_PYTREE", "w"]);
  });
});
