/**
 * The update helpers beside applyUpdates: optax's `incremental_update` (a moving average of
 * params) and `periodic_update` (a copy refreshed every k steps), from optax's update_test.py.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { applyUpdates, donate, incrementalUpdate, periodicUpdate, tree, type PyTree } from "../src/index.js";
import { withBackend } from "../src/kernels/backend.js";
import { arbitraryLike, arbitraryTree } from "../src/laws/index.js";
import { codeOf, values } from "./helpers.js";

// optax's fixture: ({'a': ones((3, 2))}, ones((1,))) and twice it.
const ones = [{ a: ndarray(new Float64Array(6).fill(1), [3, 2]) }, Float64Array.of(1)] as const;
const twos = tree.scale(2, ones);

describe("incrementalUpdate", () => {
  it("moves halfway with step size 0.5: 0.5 * 2 + 0.5 * 1 = 1.5 (optax's test_incremental_update)", () => {
    const average = incrementalUpdate(twos, ones, 0.5);
    expect(values(average)).toEqual(new Array(7).fill(1.5));
    expect(average[0].a.shape).toEqual([3, 2]);
  });

  it("is the old tree at step size 0 and the new one at 1, in the old tree's dtypes", () => {
    fc.assert(
      fc.property(
        arbitraryTree().chain((t) => fc.tuple(fc.constant(t), arbitraryLike(t))),
        ([older, newer]) => {
          // + 0 makes -0 and 0 one number: 0 * old adds a +0 to a -0.
          const plain = (t: PyTree) => values(t).map((v) => v + 0);
          expect(plain(incrementalUpdate(newer, older, 0))).toEqual(plain(older));
          expect(plain(incrementalUpdate(newer, older, 1))).toEqual(plain(tree.add(tree.zerosLike(older), newer)));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("rounds each float32 product before the sum", () => {
    const f = Math.fround;
    const out = incrementalUpdate(Float32Array.of(1), Float32Array.of(3), 0.1);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out[0]).toBe(f(f(f(0.1) * 1) + f(f(0.9) * 3)));
  });

  it("refuses a step size outside [0, 1] and trees of different structure", () => {
    expect(codeOf(() => incrementalUpdate(ones, ones, 1.5))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => incrementalUpdate([Float64Array.of(1)], ones, 0.5))).toBe("STRUCTURE_MISMATCH");
  });
});

describe("periodicUpdate", () => {
  it("keeps the old tree between multiples of the period and takes the new one at them (optax's loop)", () => {
    const period = 5;
    for (let j = 0; j < 3; j++) {
      for (let i = 1; i < period; i++) expect(periodicUpdate(twos, ones, j * period + i, period)).toBe(ones);
      expect(periodicUpdate(twos, ones, (j + 1) * period, period)).toBe(twos);
    }
    // 0 is a multiple of every period.
    expect(periodicUpdate(twos, ones, 0, period)).toBe(twos);
  });

  it("refuses a period below 1, a step count that is not a count, and trees of different structure", () => {
    expect(codeOf(() => periodicUpdate(twos, ones, 3, 0))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => periodicUpdate(twos, ones, 1.5, 2))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => periodicUpdate(twos, [Float64Array.of(1)] as never, 1, 2))).toBe("STRUCTURE_MISMATCH");
  });
});

describe("applyUpdates runs the executor's apply pass", () => {
  const lengths = fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 16384 - 20, max: 16384 + 40 }));
  const pairs = fc.constantFrom("f32", "f64", "f64+f32", "f32+f64").chain((kind) =>
    lengths.chain((n) => {
      const arr = fc.array(fc.double({ noNaN: false }), { minLength: n, maxLength: n });
      return fc.tuple(fc.constant(kind), arr, arr);
    }),
  );

  it("gives params + updates rounded once to the params' dtype, on both backends, fresh or donated", () => {
    fc.assert(
      fc.property(pairs, ([kind, xs, ys]) => {
        const [pk, uk] = kind.includes("+") ? kind.split("+") : [kind, kind];
        const make = (k: string | undefined, v: number[]) =>
          k === "f32" ? Float32Array.from(v) : Float64Array.from(v);
        // The definition: the float64 sum of the two (exact for float32 inputs), rounded once.
        const u = make(uk, ys);
        const expected = Array.from(make(pk, xs), (x, j) => x + u[j]!).map((v) => (pk === "f32" ? Math.fround(v) : v));
        for (const backend of ["wasm", "js"] as const)
          withBackend(backend, () => {
            const p = make(pk, xs);
            const fresh = applyUpdates(p, make(uk, ys));
            expect(Array.from(fresh), `${kind} ${backend}`).toEqual(expected);
            const inPlace = applyUpdates(donate(p), make(uk, ys));
            expect(inPlace).toBe(p);
            expect(Array.from(p), `${kind} ${backend}, donated`).toEqual(expected);
          });
      }),
      { numRuns: 60 },
    );
  });
});
