import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  chain,
  clipByGlobalNorm,
  deserializeParams,
  deserializeState,
  GradTxError,
  lookahead,
  serializeParams,
  serializeState,
  multiSteps,
  sgd,
  zeroNans,
  type GradientTransformation,
} from "../src/index.js";
import { arbitraryProblem, fingerprint, runProblem } from "../src/laws/index.js";
import { everyEntry } from "./catalogue.js";

const optimizers: [string, GradientTransformation][] = [
  ["sgd with momentum", sgd(0.1, { momentum: 0.9 })],
  ["adamw", adamw(0.01)],
  ["lookahead(adam), interpolate", lookahead(adam(0.1), { syncPeriod: 3, innerState: "interpolate" })],
  ["chain(clip, lookahead(adam))", chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 4 }))],
  ["two-level lookahead", lookahead(lookahead(sgd(0.1, { momentum: 0.5 }), { syncPeriod: 2 }), { syncPeriod: 3 })],
];

function codeOf(thunk: () => unknown): string {
  try {
    thunk();
  } catch (e) {
    expect(e).toBeInstanceOf(GradTxError);
    return (e as GradTxError).code;
  }
  return "nothing thrown";
}

describe("serializeState / deserializeState: checkpoints that resume bit for bit", () => {
  const everything: [string, GradientTransformation][] = [
    ...optimizers,
    ...everyEntry.map((entry): [string, GradientTransformation] => [entry.name, entry.make(entry.lr)]),
    ["multiSteps(adam, 3)", multiSteps(adam(0.1), 3)],
    ["zeroNans then sgd", chain(zeroNans(), sgd(0.1))],
  ];
  it.each(everything)("%s: resuming from bytes at any step continues exactly as the uninterrupted run", (_, tx) => {
    fc.assert(
      fc.property(arbitraryProblem({ minSteps: 2, maxSteps: 10 }), fc.nat(), ({ params, grads }, cut) => {
        const full = runProblem(tx, { params, grads });
        const at = 1 + (cut % (grads.length - 1)); // resume after step `at`, often mid sync period
        const bytes = serializeState(full.states[at - 1]);
        const restored = deserializeState(bytes, tx.init(params));
        expect(fingerprint(restored)).toBe(fingerprint(full.states[at - 1]));
        const rest = runProblem(
          { init: () => restored, update: tx.update },
          { params: full.params[at - 1]!, grads: grads.slice(at) },
        );
        expect(fingerprint(rest.params)).toBe(fingerprint(full.params.slice(at)));
        expect(fingerprint(rest.states)).toBe(fingerprint(full.states.slice(at)));
      }),
      { numRuns: 15 },
    );
  });

  const tx = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 3, innerState: "interpolate" }));
  const params = { w: Float32Array.of(1, 2, 3), b: Float64Array.of(-1) };
  const template = tx.init(params);
  const [, state] = tx.update({ w: Float32Array.of(1, 1, 1), b: Float64Array.of(1) }, template, params);
  const blob = serializeState(state);

  it("rejects a blob truncated at every byte offset (BAD_STATE), never returning a half-read state", () => {
    for (let n = 0; n < blob.length; n++)
      expect(codeOf(() => deserializeState(blob.slice(0, n), template))).toBe("BAD_STATE");
  });

  it("rejects a blob with any single byte flipped (BAD_STATE)", () => {
    for (let i = 0; i < blob.length; i++) {
      const bad = blob.slice();
      bad[i] = bad[i]! ^ 0x5a;
      expect(codeOf(() => deserializeState(bad, template))).toBe("BAD_STATE");
    }
  });

  it("rejects a blob from another optimizer or another tree, saying so", () => {
    expect(() => deserializeState(blob, sgd(0.1).init(params))).toThrowError(/does not fit the template/);
    const otherTree = tx.init({ w: Float32Array.of(1, 2), b: Float64Array.of(-1) });
    expect(() => deserializeState(blob, otherTree)).toThrowError(/does not fit the template/);
    const otherDtype = tx.init({ w: Float64Array.of(1, 2, 3), b: Float64Array.of(-1) });
    expect(codeOf(() => deserializeState(blob, otherDtype))).toBe("BAD_STATE");
  });

  it("rejects a future format version with advice to upgrade", () => {
    const future = blob.slice();
    new DataView(future.buffer).setUint32(4, 3, true);
    expect(() => deserializeState(future, template)).toThrowError(/version 3 is not supported.*upgrade gradtx/);
  });

  it("rejects params where a state is expected, and the reverse", () => {
    expect(() => deserializeState(serializeParams(params), template)).toThrowError(
      /holds params; use deserializeParams/,
    );
    expect(() => deserializeParams(blob, params)).toThrowError(/holds an optimizer state/);
  });

  it("returns a state independent of the bytes, and leaves the template untouched", () => {
    const templateBefore = fingerprint(template);
    const bytes = blob.slice();
    const restored = deserializeState(bytes, template);
    const before = fingerprint(restored);
    bytes.fill(0);
    expect(fingerprint(restored)).toBe(before);
    expect(fingerprint(template)).toBe(templateBefore);
  });

  it("keeps NaN, -0 and Infinity bit for bit", () => {
    const odd = { mu: Float64Array.of(NaN, -0, Infinity), count: -0 };
    expect(fingerprint(deserializeState(serializeState(odd), odd))).toBe(fingerprint(odd));
  });
});

describe("serializeParams / deserializeParams", () => {
  it("round-trips params of every leaf kind into new arrays of the template's kinds", () => {
    const strided = ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]).transpose(1, 0);
    const params = { a: Float32Array.of(1.5, -2), m: strided, nested: [null, { z: Float64Array.of(0.1) }] };
    const copy = deserializeParams(serializeParams(params), params);
    expect(Array.from(copy.a)).toEqual([1.5, -2]);
    expect(copy.a).not.toBe(params.a);
    expect(copy.m.shape).toEqual([3, 2]);
    expect(Array.from(copy.m.data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(copy.nested[0]).toBeNull();
  });
});
