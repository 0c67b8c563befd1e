/**
 * scaleByPolyak, polyakSgd and normalizeByUpdateNorm: optax's test and doctest values (cited),
 * steps worked out by hand, both backends and compile, and the loss read from `extra`.
 */
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  chain,
  compile,
  normalizeByUpdateNorm,
  polyakSgd,
  scaleByPolyak,
  sgd,
  type GradientTransformation,
  type PyTree,
} from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { caught, expectBitEqual, values } from "../helpers.js";
import { backends, dtypes, expectNear, leaf } from "./first-step.js";

const sumOfSquares = (x: PyTree) => values(x).reduce((s, v) => s + v * v, 0);
const twice = (x: PyTree): Float64Array => Float64Array.from(values(x), (v) => 2 * v);

describe("scaleByPolyak", () => {
  it("solves f(x) = |x1| + |x2| in one step (optax's _src/transform_test.py, test_scale_by_polyak_l1_norm)", () => {
    // value 2, gradient sign(x) = [1, -1], squared norm 2: the step is min(2 / 2, 1) = 1.
    for (const backend of backends)
      for (const dtype of dtypes)
        withBackend(backend, () => {
          const x = leaf(dtype, [1, -1]);
          const tx = scaleByPolyak();
          const [u] = tx.update(leaf(dtype, [1, -1]), tx.init(x), x, { value: 2 });
          const after = values(x).map((v, i) => Math.abs(v - values(u)[i]!));
          expect(after.reduce((s, v) => s + v, 0)).toBeLessThan(1e-10);
        });
  });

  it("is min(gap / (q + eps), maxLearningRate) times the updates: worked by hand", () => {
    const g = [3, 4]; // q = 25
    const cases: [Parameters<typeof scaleByPolyak>[0], number, number][] = [
      [{}, 5, 5 / 25],
      [{ fMin: 1 }, 5, 4 / 25],
      [{ eps: 15 }, 5, 5 / 40],
      [{ maxLearningRate: 0.1 }, 5, 0.1],
      [{ maxLearningRate: Infinity }, 1000, 40],
      // "sps" takes a negative gap as it is (a step uphill); "sps+" takes its positive part.
      [{ fMin: 10 }, 5, -5 / 25],
      [{ fMin: 10, variant: "sps+" }, 5, 0],
    ];
    for (const backend of backends)
      for (const dtype of dtypes)
        for (const [options, value, step] of cases) {
          const u: number[] = withBackend(backend, () => {
            const tx = scaleByPolyak(options);
            return values(tx.update(leaf(dtype, g), tx.init(leaf(dtype, g)), undefined, { value })[0]);
          });
          expectNear(
            u,
            g.map((v) => (dtype === "float32" ? Math.fround(Math.fround(step) * v) : step * v)),
            dtype,
            0,
          );
        }
  });

  it("takes no step when q + eps <= 2^-23 (optax's finfo(float).eps, float32's), and one just above", () => {
    const tx = scaleByPolyak();
    const tiny = Float64Array.of(2 ** -12, 0); // q = 2^-24
    expect(values(tx.update(tiny, tx.init(tiny), undefined, { value: 1 })[0])).toEqual([0, 0]);
    const [u] = scaleByPolyak({ eps: 2 ** -24 + 2 ** -30 }).update(tiny, tx.init(tiny), undefined, { value: 1e-9 });
    expect(values(u)[0]).toBeCloseTo(1e-9 / (2 ** -23 + 2 ** -30) / 2 ** 12, 20);
  });

  it("sums the squares over every leaf, and propagates a NaN loss", () => {
    const g = { a: Float64Array.of(3), b: [Float32Array.of(4)] };
    const tx = scaleByPolyak();
    const [u] = tx.update(g, tx.init(g), undefined, { value: 5 });
    expect(values(u)).toEqual([0.2 * 3, Math.fround(Math.fround(0.2) * 4)]);
    expect(values(tx.update(g, tx.init(g), undefined, { value: NaN })[0]).every(Number.isNaN)).toBe(true);
  });

  it("needs extra.value: MISSING_EXTRA_ARG, and a type error", () => {
    const tx = scaleByPolyak();
    const g = Float64Array.of(1);
    // @ts-expect-error: scaleByPolyak needs { value }
    const missing = caught(() => tx.update(g, tx.init(g)));
    expect(missing.code).toBe("MISSING_EXTRA_ARG");
    expect(missing.message).toMatch(/scaleByPolyak reads the loss: pass it as extra.value/);
    // @ts-expect-error: an extra without value
    expect(caught(() => tx.update(g, tx.init(g), undefined, {})).code).toBe("MISSING_EXTRA_ARG");
  });

  it("keeps only the params' shapes (optax keeps no state), and compiles with the same bits", () => {
    const tx = chain(sgd(1), scaleByPolyak());
    const x0 = { w: Float32Array.of(1, 2, 3), b: Float64Array.of(-1) };
    const state = tx.init(x0);
    expect(Object.keys(state[1])).toEqual(["shapes"]);
    const grad = (p: PyTree) => {
      const v = values(p);
      return { w: Float32Array.of(2 * v[1]!, 2 * v[2]!, 2 * v[3]!), b: Float64Array.of(2 * v[0]!) };
    };
    let p: PyTree = x0;
    let s = state;
    const run = compile(tx, x0);
    for (let t = 0; t < 4; t++) {
      const [u, next]: readonly [PyTree, typeof state] = tx.update(grad(p), s, p, { value: sumOfSquares(p) });
      expect(next[1].shapes).toBe(state[1].shapes);
      p = applyUpdates(p, u);
      s = next;
      run.step(grad(run.params), { value: sumOfSquares(run.params) });
      expectBitEqual(run.params, p, `step ${t + 1}`);
    }
    expect(run.reason).toBeUndefined();
    run.dispose();
  });

  it("refuses bad options, naming them", () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => scaleByPolyak({ variant: "sps-" as never }),
        /scaleByPolyak: variant must be "sps" or "sps\+", got "sps-"/,
      ],
      [() => scaleByPolyak({ eps: -1 }), /eps must be a number >= 0, got -1/],
      [() => scaleByPolyak({ maxLearningRate: NaN }), /maxLearningRate must be a number >= 0, got NaN/],
      [() => scaleByPolyak({ fMin: Infinity }), /fMin must be a number, got Infinity/],
      [() => scaleByPolyak({ f_min: 0 } as never), /fMin/],
      [() => polyakSgd({ scaling: -1 }), /polyakSgd: scaling must be a number >= 0, got -1/],
      [() => polyakSgd({ variant: "x" as never }), /polyakSgd: variant/],
    ];
    for (const [build, message] of cases)
      expect(build).toThrowError(
        expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
      );
  });
});

describe("polyakSgd", () => {
  const descend = (opt: GradientTransformation, x0: Float64Array | Float32Array, steps: number) => {
    let x: PyTree = x0;
    let state = opt.init(x);
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const [u, next]: readonly [PyTree, unknown] = opt.update(twice(x), state, x, { value: sumOfSquares(x) });
      x = applyUpdates(x, u);
      state = next;
      losses.push(sumOfSquares(x));
    }
    return losses;
  };

  it("halves x on f(x) = sum(x^2) from [1, 2, 3] (optax's polyak_sgd doctest, _src/alias.py)", () => {
    const optax = [3.5, 0.875, 0.21875, 0.0546875, 0.013671875];
    expect(descend(polyakSgd(), Float64Array.of(1, 2, 3), 5)).toEqual(optax);
    expect(descend(polyakSgd(), Float32Array.of(1, 2, 3), 5)).toEqual(optax);
  });

  it("takes the norm after the scaling, as optax's code does: scaling 2 halves the step", () => {
    // v = -2 g = [-6, -8], ||v||^2 = 100, step = 10 / 100, update 0.1 v.
    const opt = polyakSgd({ scaling: 2 });
    const g = Float64Array.of(3, 4);
    const [u] = opt.update(g, opt.init(g), g, { value: 10 });
    expect(values(u)).toEqual([0.1 * -6, 0.1 * -8]);
  });
});

describe("normalizeByUpdateNorm", () => {
  it("descends f(x) = sum(x^2) from [1, 2, 3] as optax's doctest prints (_src/transform.py)", () => {
    // optax's doctest: normalize_by_update_norm(scale_factor=-1.0) as the whole solver.
    const printed = ["7.52E+00", "3.03E+00", "5.50E-01", "6.67E-02", "5.50E-01"];
    for (const ctor of [Float32Array, Float64Array]) {
      const tx = normalizeByUpdateNorm({ scaleFactor: -1 });
      let x: PyTree = ctor.of(1, 2, 3);
      let state = tx.init(x);
      const losses: string[] = [];
      for (let i = 0; i < 5; i++) {
        const [u, next]: readonly [PyTree, typeof state] = tx.update(twice(x), state, x);
        x = applyUpdates(x, u);
        state = next;
        losses.push(
          sumOfSquares(x)
            .toExponential(2)
            .toUpperCase()
            .replace(/E([+-])(\d)$/, "E$10$2"),
        );
      }
      expect(losses).toEqual(printed);
    }
  });

  it("is u / ((||u|| + eps) / scaleFactor): worked by hand, on both backends", () => {
    for (const backend of backends)
      for (const dtype of dtypes) {
        const u: number[] = withBackend(backend, () => {
          const tx = normalizeByUpdateNorm({ scaleFactor: 2 });
          const g = leaf(dtype, [3, 4]);
          return values(tx.update(g, tx.init(g))[0]);
        });
        const divisor = (5 + 1e-6) / 2;
        const d = dtype === "float32" ? Math.fround(divisor) : divisor;
        expectNear(
          u,
          [3, 4].map((v) => (dtype === "float32" ? Math.fround(v / d) : v / d)),
          dtype,
          0,
        );
      }
  });

  it("keeps a zero update at zero, and huge updates finite (the norm does not overflow)", () => {
    const tx = normalizeByUpdateNorm();
    const zero = Float64Array.of(0, 0);
    expect(values(tx.update(zero, tx.init(zero))[0])).toEqual([0, 0]);
    const huge = Float64Array.of(3e200, 4e200);
    values(tx.update(huge, tx.init(huge))[0]).forEach((v, i) => expect(v).toBeCloseTo([0.6, 0.8][i]!, 15));
    expect(() => normalizeByUpdateNorm({ eps: -1 })).toThrowError(/normalizeByUpdateNorm: eps must be a number >= 0/);
    expect(() => normalizeByUpdateNorm({ scaleFactor: NaN })).toThrowError(/scaleFactor must be a number, got NaN/);
  });
});
