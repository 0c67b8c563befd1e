/**
 * The softmax and sigmoid cross entropies: optax's known values, gradients against finite
 * differences, extreme logits, float32 arithmetic, shapes and refusals.
 */
import * as fc from "fast-check";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import type { FloatNdArray } from "../../src/index.js";
import {
  sigmoidBinaryCrossEntropy,
  softmaxCrossEntropy,
  softmaxCrossEntropyWithIntegerLabels,
} from "../../src/losses/index.js";
import { codeOf } from "../helpers.js";
import { expectGradientMatchesFiniteDifferences } from "./gradient-check.js";

const matrix = (rows: number[][], Ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array) =>
  ndarray(Ctor.from(rows.flat()), [rows.length, rows[0]!.length]) as FloatNdArray;
const elements = (x: Float32Array | Float64Array | FloatNdArray): number[] =>
  Array.from(x instanceof Float32Array || x instanceof Float64Array ? x : x.data);

/** A batch of logits in [-10, 10] with `classes` columns, and probability rows (Dirichlet-like). */
const batchOf = (classes: number) =>
  fc.integer({ min: 1, max: 4 }).chain((batch) =>
    fc.record({
      logits: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), {
        minLength: batch * classes,
        maxLength: batch * classes,
      }),
      weights: fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), {
        minLength: batch * classes,
        maxLength: batch * classes,
      }),
      classIndices: fc.array(fc.integer({ min: 0, max: classes - 1 }), { minLength: batch, maxLength: batch }),
      batch: fc.constant(batch),
    }),
  );
/** Each row of `weights` divided by its sum. */
function normalised(weights: number[], classes: number): Float64Array {
  const out = Float64Array.from(weights);
  for (let i = 0; i < out.length; i += classes) {
    let sum = 0;
    for (let j = i; j < i + classes; j++) sum += out[j]!;
    for (let j = i; j < i + classes; j++) out[j]! /= sum;
  }
  return out;
}

describe("softmaxCrossEntropy", () => {
  it("gives optax's values (optax/losses/_classification_test.py, SoftmaxCrossEntropyTest)", () => {
    const logits = matrix([
      [10, 1, -2],
      [1, 4, 0.2],
    ]);
    const labels = matrix([
      [0, 1, 0],
      [1, 0, 0],
    ]);
    const { losses, value } = softmaxCrossEntropy(logits, labels);
    const expected = [9.00013, 3.0696733];
    elements(losses).forEach((l, i) => expect(Math.abs(l - expected[i]!)).toBeLessThan(1e-4));
    expect(value).toBeCloseTo((9.00013 + 3.0696733) / 2, 4);
  });

  it("gives the docstring's values ([0.2761, 2.9518]) and, worked out by hand, its gradient", () => {
    const x = [
      [1.2, -0.8, -0.5],
      [0.9, -1.2, 1.1],
    ];
    const { losses, grad } = softmaxCrossEntropy(
      matrix(x),
      matrix([
        [1, 0, 0],
        [0, 1, 0],
      ]),
    );
    expect(elements(losses).map((l) => Math.round(l * 1e4) / 1e4)).toEqual([0.2761, 2.9518]);
    // grad = (softmax(x_i) - y_i) / 2, the softmax written out from its definition.
    const softmax = (row: number[]) => row.map((v) => Math.exp(v) / row.reduce((s, w) => s + Math.exp(w), 0));
    const want = [
      ...softmax(x[0]!).map((p, j) => (p - (j === 0 ? 1 : 0)) / 2),
      ...softmax(x[1]!).map((p, j) => (p - (j === 1 ? 1 : 0)) / 2),
    ];
    elements(grad).forEach((g, j) => expect(g).toBeCloseTo(want[j]!, 15));
  });

  it("has the gradient of its mean: central differences agree to 1e-6 relative (float64)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((c) => fc.tuple(fc.constant(c), batchOf(c))),
        ([classes, { logits, weights, batch }]) => {
          const labels = ndarray(normalised(weights, classes), [batch, classes]);
          const run = (x: Float64Array) => {
            const r = softmaxCrossEntropy(ndarray(x, [batch, classes]) as FloatNdArray<Float64Array>, labels);
            return { ...r, grad: r.grad.data };
          };
          expectGradientMatchesFiniteDifferences(Float64Array.from(logits), run);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("carries the label sum in its gradient, as optax does not normalise labels", () => {
    // labels (2, 0) on logits (0, 0): loss = -2 log(1/2), grad = softmax * 2 - y = (1 - 2, 1).
    const { value, grad } = softmaxCrossEntropy(Float64Array.of(0, 0), Float64Array.of(2, 0));
    expect(value).toBeCloseTo(2 * Math.LN2, 15);
    expect(elements(grad)).toEqual([-1, 1]);
  });

  it("is finite and exact at logits of ±1e4: the log-sum-exp is shifted by the largest logit", () => {
    const logits = matrix([
      [1e4, -1e4, 0],
      [1e4, -1e4, 0],
      [-1e4, -1e4, -1e4],
    ]);
    const labels = matrix([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    const { losses, grad } = softmaxCrossEntropy(logits, labels);
    // lse = 1e4 + log(1 + e^-1e4 + e^-2e4) = 1e4 in float64; a row of equal logits has lse = x + log 3.
    expect(elements(losses)).toEqual([0, 2e4, Math.log(3)]);
    const third = 1 / 3;
    const want = [0, 0, 0, 1, -1, 0, third, third, third - 1].map((g) => g / 3);
    elements(grad).forEach((g, j) => expect(g).toBeCloseTo(want[j]!, 15));
  });

  it("takes 0 log 0 as 0: a label of 0 on a logit of -Infinity adds nothing (optax's safe version)", () => {
    // From optax's SafeSoftmaxCrossEntropyTest: logits (-inf, 0, 0), labels (0, 0.5, 0.5): log 2.
    const { losses, grad } = softmaxCrossEntropy(Float64Array.of(-Infinity, 0, 0), Float64Array.of(0, 0.5, 0.5));
    expect(elements(losses)[0]).toBeCloseTo(Math.LN2, 15);
    expect(elements(grad)).toEqual([0, 0, 0]);
    // ... and (-inf, 0, 0) against (0.4, 0.3, 0.3) is infinite.
    expect(
      elements(softmaxCrossEntropy(Float64Array.of(-Infinity, 0, 0), Float64Array.of(0.4, 0.3, 0.3)).losses),
    ).toEqual([Infinity]);
  });

  it("does not depend on a shift of a row's logits, nor mutate its inputs", () => {
    fc.assert(
      fc.property(batchOf(4), fc.double({ min: -100, max: 100, noNaN: true }), ({ logits, weights, batch }, c) => {
        const x = Float64Array.from(logits);
        const y = normalised(weights, 4);
        const before = [Array.from(x), Array.from(y)];
        const a = softmaxCrossEntropy(ndarray(x, [batch, 4]), ndarray(y, [batch, 4]));
        const b = softmaxCrossEntropy(
          ndarray(
            x.map((v) => v + c),
            [batch, 4],
          ),
          ndarray(y, [batch, 4]),
        );
        expect([Array.from(x), Array.from(y)]).toEqual(before);
        elements(a.losses).forEach((l, i) =>
          expect(Math.abs(l - elements(b.losses)[i]!)).toBeLessThan(1e-12 * (1 + Math.abs(c))),
        );
        // Labels summing to 1 make each row of the gradient sum to 0.
        for (let i = 0; i < batch; i++) {
          const row = elements(a.grad).slice(4 * i, 4 * i + 4);
          expect(Math.abs(row.reduce((s, g) => s + g, 0))).toBeLessThan(1e-15);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("computes in float32 for float32 logits, within float32 rounding of the float64 result", () => {
    const x = [
      [10, 1, -2],
      [1, 4, 0.2],
    ];
    const y = [
      [0, 1, 0],
      [1, 0, 0],
    ];
    const single = softmaxCrossEntropy(matrix(x, Float32Array), matrix(y, Float32Array));
    const double = softmaxCrossEntropy(matrix(x.map((r) => r.map(Math.fround))), matrix(y));
    expect(single.losses).toBeInstanceOf(Float32Array);
    expect(single.grad.data).toBeInstanceOf(Float32Array);
    elements(single.losses).forEach((l, i) => expect(Math.abs(l - double.losses[i]!)).toBeLessThan(1e-6 * 9));
    elements(single.grad).forEach((g, j) => expect(Math.abs(g - elements(double.grad)[j]!)).toBeLessThan(1e-7));
  });

  it("reads classes from the last dimension: a flat array is one example, more dimensions are more batch", () => {
    const flat = softmaxCrossEntropy(Float64Array.of(1, 2, 3), Float64Array.of(0, 0, 1));
    expect(flat.losses.length).toBe(1);
    expect(flat.grad).toBeInstanceOf(Float64Array);
    const data = Float64Array.from({ length: 12 }, (_, j) => Math.sin(j));
    const labels = Float64Array.from({ length: 12 }, (_, j) => (j % 3 === 0 ? 1 : 0));
    const cube = softmaxCrossEntropy(ndarray(data, [2, 2, 3]), ndarray(labels, [2, 2, 3]));
    const rows = softmaxCrossEntropy(ndarray(data, [4, 3]), ndarray(labels, [4, 3]));
    expect(elements(cube.losses)).toEqual(elements(rows.losses));
    expect(cube.grad.shape).toEqual([2, 2, 3]);
  });

  it("reads a strided ndarray view through its strides, and returns a contiguous gradient of its shape", () => {
    const stored = ndarray(Float64Array.of(1, 4, 2, 5, 3, 6), [3, 2]);
    const view = stored.transpose(1, 0) as unknown as FloatNdArray<Float64Array>; // rows (1, 2, 3), (4, 5, 6)
    const labels = matrix([
      [1, 0, 0],
      [0, 0, 1],
    ]);
    const viaView = softmaxCrossEntropy(view, labels);
    const dense = softmaxCrossEntropy(
      matrix([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      labels,
    );
    expect(elements(viaView.losses)).toEqual(elements(dense.losses));
    expect(elements(viaView.grad)).toEqual(elements(dense.grad));
    expect(viaView.grad.stride).toEqual([3, 1]);
  });

  it("refuses labels of another shape, and what is not a leaf", () => {
    expect(codeOf(() => softmaxCrossEntropy(matrix([[1, 2]]), Float64Array.of(1, 0)))).toBe("SHAPE_MISMATCH labels");
    expect(codeOf(() => softmaxCrossEntropy([1, 2] as never, Float64Array.of(1, 0)))).toBe("NOT_A_PYTREE logits");
    expect(codeOf(() => softmaxCrossEntropy(new Float64Array(0), new Float64Array(0)))).toBe("SHAPE_MISMATCH logits");
  });
});

describe("softmaxCrossEntropyWithIntegerLabels", () => {
  it("is softmaxCrossEntropy of one-hot labels (optax's consistency test)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((c) => fc.tuple(fc.constant(c), batchOf(c))),
        fc.boolean(),
        ([classes, { logits, classIndices, batch }], single) => {
          const Ctor = single ? Float32Array : Float64Array;
          const x = ndarray(Ctor.from(logits), [batch, classes]) as FloatNdArray;
          const oneHot = new Ctor(batch * classes);
          classIndices.forEach((c, i) => (oneHot[i * classes + c] = 1));
          const a = softmaxCrossEntropyWithIntegerLabels(x, classIndices);
          const b = softmaxCrossEntropy(x, ndarray(oneHot, [batch, classes]) as FloatNdArray);
          // The same formulas, but for the true class's gradient: -rest / sum here, p - 1 there.
          const tolerance = single ? 1e-6 : 1e-15;
          a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i]!)).toBeLessThanOrEqual(tolerance * (1 + l)));
          a.grad.data.forEach((g, j) => expect(Math.abs(g - b.grad.data[j]!)).toBeLessThanOrEqual(tolerance));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("has the gradient of its mean: central differences agree to 1e-6 relative (float64)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((c) => fc.tuple(fc.constant(c), batchOf(c))),
        ([classes, { logits, classIndices, batch }]) => {
          const run = (x: Float64Array) => {
            const r = softmaxCrossEntropyWithIntegerLabels(
              ndarray(x, [batch, classes]) as FloatNdArray<Float64Array>,
              classIndices,
            );
            return { ...r, grad: r.grad.data };
          };
          expectGradientMatchesFiniteDifferences(Float64Array.from(logits), run);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gives optax's docstring values for integer labels ([0.2761, 2.9518]) and is exact at ±1e4", () => {
    const { losses } = softmaxCrossEntropyWithIntegerLabels(
      matrix([
        [1.2, -0.8, -0.5],
        [0.9, -1.2, 1.1],
      ]),
      Int32Array.of(0, 1),
    );
    expect(elements(losses).map((l) => Math.round(l * 1e4) / 1e4)).toEqual([0.2761, 2.9518]);
    const extreme = softmaxCrossEntropyWithIntegerLabels(
      matrix(
        [
          [1e4, -1e4],
          [1e4, -1e4],
        ],
        Float32Array,
      ),
      [0, 1],
    );
    expect(elements(extreme.losses)).toEqual([0, 2e4]);
    expect(elements(extreme.grad)).toEqual([0, 0, 0.5, -0.5]);
  });

  it("refuses a label that is no class index, naming it, and labels of the wrong count", () => {
    const logits = matrix([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(codeOf(() => softmaxCrossEntropyWithIntegerLabels(logits, [0, 3]))).toBe("SHAPE_MISMATCH labels[1]");
    expect(codeOf(() => softmaxCrossEntropyWithIntegerLabels(logits, [0.5, 1]))).toBe("SHAPE_MISMATCH labels[0]");
    expect(codeOf(() => softmaxCrossEntropyWithIntegerLabels(logits, [-1, 1]))).toBe("SHAPE_MISMATCH labels[0]");
    expect(codeOf(() => softmaxCrossEntropyWithIntegerLabels(logits, [0]))).toBe("SHAPE_MISMATCH labels");
    expect(codeOf(() => softmaxCrossEntropyWithIntegerLabels(logits, 1 as never))).toBe("NOT_A_PYTREE labels");
  });
});

describe("sigmoidBinaryCrossEntropy", () => {
  // optax/losses/_classification_test.py, SigmoidCrossEntropyTest: the mean over two elements.
  const cases: [number[], number[], number][] = [
    [[-1e9, -1e-9], [1, 0], 5e8],
    [[-1e9, -1e-9], [0, 1], 0.3465736],
    [[1e9, 1e-9], [1, 0], 0.3465736],
    [[1e9, 1e-9], [0, 1], 5e8],
    [[-1e9, 1e-9], [1, 0], 5e8],
    [[-1e9, 1e-9], [0, 1], 0.3465736],
    [[1e9, -1e-9], [1, 0], 0.3465736],
    [[1e9, -1e-9], [0, 1], 5e8],
    [[0, 0], [1, 0], 0.6931472],
    [[0, 0], [0, 1], 0.6931472],
  ];
  it.each(cases)("gives optax's mean for logits %j, labels %j: %d", (x, y, expected) => {
    const { value } = sigmoidBinaryCrossEntropy(Float64Array.from(x), Float64Array.from(y));
    expect(Math.abs(value - expected)).toBeLessThanOrEqual(1e-6 + 1e-6 * expected);
  });

  it("is exact at ±1e4, in float32 too: 0 on the right side, |x| on the wrong one", () => {
    for (const Ctor of [Float32Array, Float64Array]) {
      const { losses, grad } = sigmoidBinaryCrossEntropy(Ctor.of(1e4, -1e4, 1e4, -1e4), Ctor.of(1, 0, 0, 1));
      expect(losses).toBeInstanceOf(Ctor);
      expect(elements(losses)).toEqual([0, 0, 1e4, 1e4]);
      expect(elements(grad)).toEqual([0, 0, 0.25, -0.25]);
    }
  });

  it("has the gradient of its mean: central differences agree to 1e-6 relative (float64)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -30, max: 30, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), {
          minLength: 1,
          maxLength: 12,
        }),
        (pairs) => {
          const labels = Float64Array.from(pairs, ([, y]) => y);
          expectGradientMatchesFiniteDifferences(
            Float64Array.from(pairs, ([x]) => x),
            (x) => sigmoidBinaryCrossEntropy(x, labels),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("equals -y log(sigmoid(x)) - (1 - y) log(1 - sigmoid(x)) where that is accurate, and is never negative", () => {
    fc.assert(
      fc.property(fc.double({ min: -20, max: 20, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (x, y) => {
        const s = 1 / (1 + Math.exp(-x));
        const naive = -y * Math.log(s) - (1 - y) * Math.log(1 - s);
        const { losses } = sigmoidBinaryCrossEntropy(Float64Array.of(x), Float64Array.of(y));
        expect(losses[0]!).toBeGreaterThanOrEqual(0);
        // 1 - s and s lose digits near 0 and 1: the naive form is good to about 1e-16 / min(s, 1 - s).
        expect(Math.abs(losses[0]! - naive)).toBeLessThan(1e-12 * (1 + naive) + 1e-15 / Math.min(s, 1 - s));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses labels of another shape", () => {
    expect(codeOf(() => sigmoidBinaryCrossEntropy(Float64Array.of(1, 2), Float64Array.of(1)))).toBe(
      "SHAPE_MISMATCH labels",
    );
  });
});
