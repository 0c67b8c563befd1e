/** One row per error code of the contract: the code, and the path where one applies. */
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  addDecayedWeights,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  GradTxError,
  lookahead,
  reduceOnPlateau,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  trace,
  type GradTxErrorCode,
  type PyTree,
} from "../src/index.js";
import { caught } from "./helpers.js";

const params = {
  layers: [{ w: ndarray(new Float64Array(1280), [128, 10]) }, { w: ndarray(new Float64Array(1280), [128, 10]) }],
};

const table: [string, GradTxErrorCode, string | undefined, () => unknown, RegExp?][] = [
  ["adam with a negative learning rate", "INVALID_HYPERPARAMETER", undefined, () => adam(-1), /learningRate.*>= 0.*-1/],
  ["sgd with a NaN learning rate", "INVALID_HYPERPARAMETER", undefined, () => sgd(NaN), /learningRate/],
  [
    "adam with b1 = 1",
    "INVALID_HYPERPARAMETER",
    undefined,
    () => adam(0.1, { b1: 1 }),
    /b1 must be a number in \[0, 1\)/,
  ],
  ["scaleByAdam with b2 = -0.1", "INVALID_HYPERPARAMETER", undefined, () => scaleByAdam({ b2: -0.1 }), /b2/],
  ["trace with decay NaN", "INVALID_HYPERPARAMETER", undefined, () => trace(NaN), /decay/],
  ["clipByGlobalNorm(0)", "INVALID_HYPERPARAMETER", undefined, () => clipByGlobalNorm(0), /maxNorm.*> 0/],
  [
    "adamw with weightDecay -1",
    "INVALID_HYPERPARAMETER",
    undefined,
    () => adamw(0.1, { weightDecay: -1 }),
    /weightDecay/,
  ],
  [
    "lookahead with syncPeriod 0",
    "INVALID_HYPERPARAMETER",
    undefined,
    () => lookahead(sgd(1), { syncPeriod: 0 }),
    /syncPeriod.*integer/,
  ],
  [
    "chain of a non-transformation",
    "INVALID_HYPERPARAMETER",
    undefined,
    () => chain(sgd(1), {} as never),
    /argument 1/,
  ],
  [
    "grads missing a key",
    "STRUCTURE_MISMATCH",
    "",
    () =>
      sgd(0.1, { momentum: 0.9 }).update(
        { v: Float64Array.of(1) },
        sgd(0.1, { momentum: 0.9 }).init({ w: Float64Array.of(1) }),
      ),
    /expected keys \[w\], got \[v\]/,
  ],
  [
    "grads with a shorter tuple",
    "STRUCTURE_MISMATCH",
    "layers",
    () => applyUpdates(params, { layers: [params.layers[0]!] }),
    /expected an array of length 2, got length 1/,
  ],
  [
    "a leaf where a subtree was",
    "STRUCTURE_MISMATCH",
    "a",
    () => applyUpdates({ a: { b: Float64Array.of(1) } }, { a: Float64Array.of(1) }),
    /expected an object, got a leaf/,
  ],
  [
    "a transposed weight matrix",
    "SHAPE_MISMATCH",
    "layers[1].w",
    () =>
      applyUpdates(params, {
        layers: [params.layers[0]!.w, ndarray(new Float64Array(1280), [10, 128])].map((w) => ({ w })),
      }),
    /expected shape \[128,10\], got \[10,128\]/,
  ],
  [
    "grads of another length than the state",
    "SHAPE_MISMATCH",
    "w",
    () => adam(0.1).update({ w: Float64Array.of(1, 2) }, adam(0.1).init({ w: Float64Array.of(1) })),
    /expected length 1, got 2/,
  ],
  [
    "grads that are not a pytree",
    "NOT_A_PYTREE",
    "x",
    () => adam(0.1).update({ x: 3 } as never, adam(0.1).init({ x: Float64Array.of(1) })),
    /Float64Array\.of/,
  ],
  [
    "addDecayedWeights without params",
    "MISSING_PARAMS",
    undefined,
    () => addDecayedWeights(0.1).update(Float64Array.of(1), addDecayedWeights(0.1).init(Float64Array.of(1))),
    /addDecayedWeights reads the params/,
  ],
  [
    "lookahead without params",
    "MISSING_PARAMS",
    undefined,
    () => lookahead(sgd(1)).update(Float64Array.of(1), lookahead(sgd(1)).init(Float64Array.of(1))),
    /fast weights/,
  ],
  [
    "reduceOnPlateau without the loss",
    "MISSING_EXTRA_ARG",
    undefined,
    () =>
      // @ts-expect-error: the chain's type needs { value } too
      chain(sgd(0.1), reduceOnPlateau()).update(
        Float64Array.of(1),
        chain(sgd(0.1), reduceOnPlateau()).init(Float64Array.of(1)),
      ),
    /reduceOnPlateau reads the loss: pass it as extra\.value/,
  ],
  [
    "extra that is not an object",
    "INVALID_HYPERPARAMETER",
    undefined,
    () => sgd(0.1).update(Float64Array.of(1), sgd(0.1).init(Float64Array.of(1)), undefined, 3 as never),
    /extra must be an object/,
  ],
  [
    "a chain state of the wrong length",
    "BAD_STATE",
    undefined,
    () => adam(0.1).update(Float64Array.of(1), [] as never),
    /array of 2 states/,
  ],
  [
    "adam given sgd's state",
    "BAD_STATE",
    undefined,
    () => scaleByAdam().update(Float64Array.of(1), { trace: Float64Array.of(0) } as never),
    /no "count"/,
  ],
  [
    "a state whose counter is not a count",
    "BAD_STATE",
    undefined,
    () => {
      const tx = scaleByLearningRate(() => 0.1);
      return tx.update(Float64Array.of(1), { ...tx.init(Float64Array.of(1)), count: -1 });
    },
    /count must be a non-negative integer/,
  ],
];

describe("errors: every code of the contract, with its path", () => {
  it.each(table)("%s throws %s", (_, code, path, thunk, message) => {
    const error = caught(thunk);
    expect(error.code).toBe(code);
    expect(error.path).toBe(path);
    if (message) expect(error.message).toMatch(message);
    expect(error.name).toBe("GradTxError");
  });

  it("prefixes the message with the path, so a log line says where", () => {
    const error = caught(() =>
      applyUpdates(params as PyTree, {
        layers: [{ w: params.layers[0]!.w }, { w: ndarray(new Float64Array(1280), [10, 128]) }],
      }),
    );
    expect(error.message).toBe("layers[1].w: expected shape [128,10], got [10,128]");
  });
});

describe("errors: instanceof across copies of gradtx", () => {
  it("is true of another copy's errors (the CommonJS and ESM builds), false of other errors", () => {
    // What a second copy's class looks like from here: its own class, the shared brand.
    class OtherCopy extends Error {}
    Object.defineProperty(OtherCopy.prototype, Symbol.for("gradtx.GradTxError"), { value: true });
    expect(new OtherCopy("x")).toBeInstanceOf(GradTxError);
    expect(caught(() => adam(-1))).toBeInstanceOf(Error);
    expect(new Error("x")).not.toBeInstanceOf(GradTxError);
    expect(Object.create(null)).not.toBeInstanceOf(GradTxError);
    expect(1 as unknown).not.toBeInstanceOf(GradTxError);
  });

  it("keeps the ordinary test for a subclass", () => {
    class Sub extends GradTxError {}
    expect(new Sub("BAD_STATE", "x")).toBeInstanceOf(Sub);
    expect(caught(() => adam(-1))).not.toBeInstanceOf(Sub);
  });
});
