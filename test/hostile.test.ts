/**
 * Hostile input never corrupts a run: whatever is passed, the only error is a GradTxError, and
 * no input is mutated. Non-finite gradients behave as documented (long runs: long-runs.test.ts).
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  applyUpdates,
  compile,
  donate,
  chain,
  clipByGlobalNorm,
  deserializeState,
  GradTxError,
  lookahead,
  scaleByLearningRate,
  serializeState,
  sgd,
  slowParams,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem, fingerprint } from "../src/laws/index.js";
import { dataOf, type Leaf } from "../src/core/pytree.js";
import { everyEntry } from "./catalogue.js";
import { values } from "./helpers.js";

const optimizers: GradientTransformation[] = [
  sgd(0.1, { momentum: 0.9 }),
  adamw(0.1),
  chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 2, innerState: "interpolate" })),
];
/** The whole catalogue, for the cheaper properties. */
const everyOptimizer = everyEntry.map((entry) => [entry.name, entry.make(entry.lr)] as const);

/**
 * Runs `thunk` on an input that may be valid: anything it throws must be a GradTxError. Where the
 * input is certainly invalid, use {@link throwsGradTxError}.
 */
function onlyGradTxError(thunk: () => unknown): void {
  try {
    thunk();
  } catch (e) {
    if (!(e instanceof GradTxError)) throw new Error(`threw ${String(e)} instead of a GradTxError`, { cause: e });
  }
}

/** Runs `thunk` on an input that is certainly invalid: it must throw, and a GradTxError. */
function throwsGradTxError(thunk: () => unknown, what: string): void {
  let result: unknown;
  try {
    result = thunk();
  } catch (e) {
    if (e instanceof GradTxError) return;
    throw new Error(`${what}: threw ${String(e)} instead of a GradTxError`, { cause: e });
  }
  throw new Error(`${what}: accepted invalid input and returned ${String(result).slice(0, 60)}`);
}

/** `thunk` must throw a GradTxError when `invalid`, and may throw one otherwise. */
function refusedIf(invalid: boolean, thunk: () => unknown, what: string): void {
  if (invalid) throwsGradTxError(thunk, what);
  else onlyGradTxError(thunk);
}

/*
 * Oracles, written here from the README's definitions rather than from the library: which
 * values are pytrees, which trees have the same structure, which values are plain data.
 */

function isFloatLeaf(x: unknown): boolean {
  if (x instanceof Float32Array || x instanceof Float64Array) return true;
  const o = x as { shape?: unknown; stride?: unknown; offset?: unknown; data?: unknown } | null;
  return (
    typeof x === "object" &&
    x !== null &&
    Array.isArray(o!.shape) &&
    Array.isArray(o!.stride) &&
    typeof o!.offset === "number" &&
    (o!.data instanceof Float32Array || o!.data instanceof Float64Array) &&
    wellLaidOut(o as { shape: unknown[]; stride: unknown[]; offset: number; data: Float64Array; size?: unknown })
  );
}

/**
 * Whether every element of an ndarray-like lies in its `.data`, found by visiting each element's
 * index in turn (the library bounds the lowest and highest index instead).
 */
function wellLaidOut(o: { shape: unknown[]; stride: unknown[]; offset: number; data: Float64Array; size?: unknown }) {
  const { shape, stride, offset } = o;
  if (shape.length !== stride.length || !Number.isInteger(offset)) return false;
  if (!shape.every((n) => Number.isInteger(n) && (n as number) >= 0) || !stride.every(Number.isInteger)) return false;
  const dims = shape as number[];
  const size = dims.reduce((a, b) => a * b, 1);
  if (o.size !== undefined && o.size !== size) return false;
  for (let k = 0; k < size; k++) {
    let rest = k;
    let index = offset;
    for (let d = dims.length - 1; d >= 0; d--) {
      index += (rest % dims[d]!) * (stride[d] as number);
      rest = Math.floor(rest / dims[d]!);
    }
    if (index < 0 || index >= o.data.length) return false;
  }
  return true;
}

function isPlain(x: object): boolean {
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** A leaf, null/undefined, an array of pytrees or a plain object of pytrees. */
function isPyTree(x: unknown): boolean {
  if (x === null || x === undefined || isFloatLeaf(x)) return true;
  if (Array.isArray(x)) return Array.from(x, (item: unknown) => item).every(isPyTree);
  if (typeof x === "object" && isPlain(x))
    return Object.keys(x).every((k) => isPyTree((x as Record<string, unknown>)[k]));
  return false;
}

/**
 * Whether two pytrees agree in structure: node kinds, keys, tuple lengths, and leaves of one
 * size. (Two ndarrays of one size and different shapes count as agreeing: a state of typed
 * arrays cannot tell them apart, so only the size is certainly checked on every call.)
 */
function sameStructure(x: unknown, y: unknown): boolean {
  if (isFloatLeaf(x) || isFloatLeaf(y)) {
    const size = (l: unknown) =>
      (l as { length?: number }).length ?? (l as { shape: number[] }).shape.reduce((a, b) => a * b, 1);
    return isFloatLeaf(x) && isFloatLeaf(y) && size(x) === size(y);
  }
  if (x === null || x === undefined || y === null || y === undefined) return x === y;
  if (Array.isArray(x) || Array.isArray(y))
    return (
      Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((_, i) => sameStructure(x[i], y[i]))
    );
  const kx = Object.keys(x as object).sort();
  const ky = Object.keys(y as object).sort();
  return (
    kx.join("\u0000") === ky.join("\u0000") &&
    kx.every((k) => sameStructure((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]))
  );
}

/** Whether `x` is a pytree of `like`'s structure and leaf lengths. */
function fits(x: unknown, like: unknown): boolean {
  return isPyTree(x) && isPyTree(like) && sameStructure(x, like);
}

/** Whether `tx` keeps trees in its state, against which it checks the updates' structure. */
function keepsTrees(tx: GradientTransformation, params: PyTree): boolean {
  return /f32|f64/.test(fingerprint(tx.init(params)));
}

/** Whether a state checkpoint can hold `x`: plain data only. */
function isPlainData(x: unknown): boolean {
  if (x === null || x === undefined || ["boolean", "number", "string"].includes(typeof x)) return true;
  if (x instanceof Float32Array || x instanceof Float64Array) return true;
  if (Array.isArray(x)) return Array.from(x, (item: unknown) => item).every(isPlainData);
  if (typeof x === "object" && isPlain(x))
    return Object.keys(x).every((k) => isPlainData((x as Record<string, unknown>)[k]));
  return false;
}

/** Whether `x` holds an object with Lookahead's state keys anywhere in it. */
function holdsLookaheadLike(x: unknown, depth = 0): boolean {
  if (typeof x !== "object" || x === null || ArrayBuffer.isView(x) || depth > 50) return false;
  if (!Array.isArray(x) && "slow" in x && "inner" in x && "count" in x) return true;
  return Object.values(x).some((v: unknown) => holdsLookaheadLike(v, depth + 1));
}

const anything = fc.anything({
  withTypedArray: true,
  withNullPrototype: true,
  withObjectString: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withSparseArray: true,
  withBigInt: true,
  withBoxedValues: true,
});
/** ndarray-likes, well or badly laid out: shapes, strides and offsets that may reach outside `.data`. */
const ndarrayLike = fc.record({
  data: fc.integer({ min: 0, max: 6 }).map((n) => new Float64Array(n)),
  shape: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }),
  stride: fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(0.5)), { maxLength: 3 }),
  offset: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constant(0.5)),
});
/** Mostly-valid trees with hostile values mixed in: the shapes that get past the first checks. */
const hostileTree = fc.oneof(
  anything,
  fc.dictionary(
    fc.string(),
    fc.oneof(anything, ndarrayLike, fc.constant(Float64Array.of(1)), fc.constant(new Float32Array(3))),
  ),
  fc.dictionary(fc.constantFrom("w", "b"), ndarrayLike),
  fc.array(fc.oneof(anything, fc.constant(Float64Array.of(NaN)))),
);

describe("ndarray shape swaps: every optimizer refuses grads of another shape, with or without params", () => {
  // Shapes of six elements: one of them is the params', the others must be refused.
  const shapes = fc.constantFrom<number[]>([2, 3], [3, 2], [6], [1, 6], [6, 1], [1, 2, 3]);
  it.each(everyOptimizer)("%s", (_, tx) => {
    fc.assert(
      fc.property(shapes, fc.boolean(), fc.integer({ min: 0, max: 3 }), (shape, withParams, steps) => {
        let p: PyTree = { w: ndarray(new Float64Array(6).fill(1), [2, 3]) };
        let state: unknown = tx.init(p);
        for (let t = 0; t < steps; t++) {
          const step: readonly [PyTree, unknown] = tx.update(
            { w: ndarray(new Float64Array(6).fill(0.5), [2, 3]) },
            state,
            p,
          );
          p = applyUpdates(p, step[0]);
          state = step[1];
        }
        const g = { w: ndarray(new Float64Array(6).fill(0.5), shape) };
        const same = shape.length === 2 && shape[0] === 2 && shape[1] === 3;
        const run = () => tx.update(g, state, withParams ? p : { w: ndarray(new Float64Array(6), shape) });
        if (same) expect(run).not.toThrow();
        else expect(run).toThrowError(expect.objectContaining({ code: "SHAPE_MISMATCH", path: "w" }));
      }),
      { numRuns: 15 },
    );
  });
});

describe("hostile input: only GradTxError, nothing mutated", () => {
  it("init, update, applyUpdates and the tree utilities on arbitrary JavaScript values", () => {
    const params = { w: Float64Array.of(1, 2), b: Float32Array.of(3) };
    fc.assert(
      fc.property(hostileTree, hostileTree, (x, y) => {
        const before = [fingerprint(params), fingerprint(x), fingerprint(y)];
        const tree_ = isPyTree(x);
        const asParams = fits(x, params);
        optimizers.forEach((tx, i) => {
          refusedIf(!tree_, () => tx.init(x as PyTree), `optimizer ${i}: init`);
          refusedIf(!asParams, () => tx.update(x as PyTree, tx.init(params), params), `optimizer ${i}: grads`);
          // None of these states can come out of the generators: each has a part that checks its state.
          throwsGradTxError(() => tx.update(params, x as never, params), `optimizer ${i}: state`);
          // adamw reads the params at every step; the others do not on a first step.
          if (i === 1) refusedIf(!asParams, () => tx.update(params, tx.init(params), x as PyTree), "adamw: params");
          else onlyGradTxError(() => tx.update(params, tx.init(params), x as PyTree));
        });
        refusedIf(!(isPyTree(x) && fits(y, x)), () => applyUpdates(x as PyTree, y as PyTree), "applyUpdates");
        refusedIf(!asParams, () => tree.add(x as PyTree, params), "tree.add");
        refusedIf(!tree_, () => tree.globalNorm(x as PyTree), "tree.globalNorm");
        refusedIf(!holdsLookaheadLike(x), () => slowParams(x), "slowParams");
        refusedIf(!isPlainData(x), () => serializeState(x), "serializeState");
        throwsGradTxError(() => deserializeState(x as never, optimizers[2]!.init(params)), "deserializeState");
        // The compiled path: junk as params, as a state to continue from, as a gradient, as options.
        const compiled = optimizers[1]!; // adamw: it compiles
        refusedIf(!tree_, () => compile(compiled, x as PyTree), "compile: params");
        refusedIf(x !== undefined, () => compile(compiled, params, { state: x }), "compile: state");
        const noOptions =
          x === null || x === undefined || (typeof x === "object" && isPlain(x) && Object.keys(x).length === 0);
        refusedIf(!noOptions, () => compile(compiled, params, x as never), "compile: options");
        refusedIf(!asParams && x !== undefined, () => compile(compiled, params).step(x as PyTree), "compile: step");
        // A donated junk value is not taken by a call that refuses it.
        refusedIf(
          !(isPyTree(x) && fits(y, x)),
          () => applyUpdates(donate(x as PyTree), y as PyTree),
          "applyUpdates (donated)",
        );
        expect([fingerprint(params), fingerprint(x), fingerprint(y)]).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it("mismatched trees, wrong lengths and foreign states throw GradTxError and mutate nothing", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 2 }), arbitraryProblem({ maxSteps: 2 }), (a, b) => {
        const before = fingerprint([a, b]);
        const same = fits(b.params, a.params);
        optimizers.forEach((tx, i) => {
          refusedIf(!same, () => tx.update(b.grads[0], tx.init(a.params), a.params), `optimizer ${i}: b's grads`);
          // adamw reads the params at every step; the others do not on a first step.
          if (i === 1) refusedIf(!same, () => tx.update(a.grads[0], tx.init(a.params), b.params), "adamw: b's params");
          else onlyGradTxError(() => tx.update(a.grads[0], tx.init(a.params), b.params));
          // sgd's state is its own; the others' is not.
          if (i > 0)
            throwsGradTxError(
              () => tx.update(a.grads[0], optimizers[0]!.init(a.params), a.params),
              `optimizer ${i}: sgd's state`,
            );
        });
        refusedIf(!same, () => applyUpdates(a.params, b.grads[0]), "applyUpdates");
        expect(fingerprint([a, b])).toBe(before);
      }),
      { numRuns: 200 },
    );
  });

  it("NaN and Infinity hyperparameters are refused when the optimizer is built", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const build of [
        () => sgd(bad),
        () => sgd(0.1, { momentum: bad }),
        () => adam(bad),
        () => adam(0.1, { b1: bad }),
        () => adam(0.1, { eps: bad }),
        () => adamw(0.1, { weightDecay: bad }),
        () => lookahead(sgd(0.1), { alpha: bad }),
        () => lookahead(sgd(0.1), { syncPeriod: bad }),
        () => scaleByLearningRate(bad),
      ])
        expect(() => build()).toThrowError(expect.objectContaining({ code: "INVALID_HYPERPARAMETER" }));
    }
    expect(() => clipByGlobalNorm(NaN)).toThrowError(GradTxError);
  });
});

describe("non-finite gradients", () => {
  it.each(everyOptimizer)("propagate through %s, as in optax (no silent clamping)", (name, tx) => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 1 }), ({ params }) => {
        // Zero gradients with one NaN in every leaf.
        const poisoned = tree.map((leaf) => {
          const copy = dataOf(leaf as Leaf).slice();
          copy[0] = NaN;
          return copy;
        }, tree.zerosLike(params));
        const [u] = tx.update(poisoned, tx.init(params), params);
        // The two guards are the documented exceptions: zeroNans zeroes NaNs, applyIfFinite skips the step.
        // applyEvery(2) defers it: its first step emits zeros, the NaN comes out at the round's end.
        const guarded = /zeroNans|applyIfFinite|applyEvery\(2\)/.test(name);
        expect(tree.allFinite(u)).toBe(guarded);
      }),
      { numRuns: 10 },
    );
  });

  it.each(everyOptimizer)("%s meets hostile values with GradTxError only, and mutates nothing", (_, tx) => {
    const params = { w: Float64Array.of(1, 2), b: Float32Array.of(3) };
    fc.assert(
      fc.property(hostileTree, (x) => {
        const before = [fingerprint(params), fingerprint(x)];
        refusedIf(!isPyTree(x), () => tx.init(x as PyTree), "init");
        // A stateless optimizer (sgd without momentum) keeps nothing to check the grads against
        // yet, so for it only a non-tree is certainly refused.
        const invalidGrads = keepsTrees(tx, params) ? !fits(x, params) : !isPyTree(x);
        refusedIf(invalidGrads, () => tx.update(x as PyTree, tx.init(params), params), "grads");
        onlyGradTxError(() => tx.update(params, x as never, params));
        onlyGradTxError(() => tx.update(params, tx.init(params), x as PyTree));
        expect([fingerprint(params), fingerprint(x)]).toEqual(before);
      }),
      { numRuns: 40 },
    );
  });

  it("a NaN on a non-sync step stays out of Lookahead's slow weights; the next sync takes it in", () => {
    const tx = lookahead(sgd(0.1), { syncPeriod: 3 });
    let params = Float64Array.of(1, 2);
    let state = tx.init(params);
    const grads = [Float64Array.of(NaN, 1), Float64Array.of(1, 1), Float64Array.of(1, 1)];
    const slowAfter: number[][] = [];
    for (const g of grads) {
      const [u, next] = tx.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
      slowAfter.push(values(slowParams(state)));
    }
    expect(slowAfter[0]).toEqual([1, 2]);
    expect(slowAfter[1]).toEqual([1, 2]);
    expect(Number.isNaN(slowAfter[2]![0]!)).toBe(true);
    expect(Number.isFinite(slowAfter[2]![1]!)).toBe(true);
  });
});
