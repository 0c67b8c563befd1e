/** The kernel layer: expressions, the two backends, fusion and reductions. */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  donate,
  lookahead,
  scaleByDowg,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { arbitraryProblem } from "../src/laws/index.js";
import { runnerOf, withBackend, withResident, type Resident } from "../src/kernels/backend.js";
import { elementwise } from "../src/kernels/executor.js";
import * as e from "../src/kernels/expr.js";
import { fuse } from "../src/kernels/fuse.js";
import { buildKernel, declare } from "../src/kernels/kernel.js";
import { BLOCK, sumBlocks, type Pass } from "../src/kernels/pass.js";
import { passRoots, topologicalOrder, wasmApi } from "../src/kernels/wasm.js";
import { catalogue } from "./catalogue.js";
import { expectBitEqual, trajectory } from "./helpers.js";

const backends = ["wasm", "js"] as const;

/** A stateless kernel computing `body(x)`, for checking single operations. */
const unary = (body: (x: e.Expr) => e.Expr): GradientTransformation =>
  elementwise(declare({ name: "probe", body: ({ x }) => ({ update: body(x) }) }));

/** Runs `tx` on `g` on a backend; returns the update's elements. */
const on = (backend: (typeof backends)[number], tx: GradientTransformation, g: PyTree): number[] =>
  withBackend(backend, () => {
    const [u] = tx.update(g, tx.init(g));
    return Array.from(u as Float64Array);
  });

// Edge values: signed zeros, NaN, infinities, subnormals, and values around 1 (17 of them, so
// that both the vector loop and the scalar tail see them).
const edges = [0, -0, NaN, Infinity, -Infinity, 1e-310, -1e-310, 1, -1, 0.5, 3, -2.5, 1e300, -1e-45, 7, 1e-40, 2];

describe("expressions: every operation rounds as IEEE 754 in the leaf's dtype, on both backends", () => {
  const f32 = Math.fround;
  const cases: [string, (x: e.Expr) => e.Expr, (v: number) => number][] = [
    ["neg", (x) => e.neg(x), (v) => -v],
    ["abs", (x) => e.abs(x), (v) => Math.abs(v)],
    ["sqrt", (x) => e.sqrt(x), (v) => Math.sqrt(v)],
    ["x * 3 + 1", (x) => e.add(e.mul(x, 3), 1), (v) => v * 3 + 1],
    ["x / 7 - x", (x) => e.sub(e.div(x, 7), x), (v) => v / 7 - v],
    ["min(x, 0)", (x) => e.min(x, 0), (v) => Math.min(v, 0)],
    ["max(x, -0)", (x) => e.max(x, -0), (v) => Math.max(v, -0)],
    ["sign", (x) => e.sign(x), (v) => (v > 0 ? 1 : v < 0 ? -1 : v)],
    ["isFinite ? x : 0", (x) => e.select(e.isFinite(x), x, 0), (v) => (Number.isFinite(v) ? v : 0)],
    ["clamp(x, -1, 1)", (x) => e.clamp(x, -1, 1), (v) => Math.min(Math.max(v, -1), 1)],
  ];
  for (const [name, body, expected] of cases) {
    it(`${name}, float64`, () => {
      const g = Float64Array.from(edges);
      for (const backend of backends)
        expect(on(backend, unary(body), g), backend).toEqual(edges.map((v) => expected(v)));
    });
    it(`${name}, float32: each operation rounded to float32`, () => {
      const g = Float32Array.from(edges);
      // The expected value is computed in float64 from float32 inputs and rounded once per
      // operation: for + - * / and sqrt that is the correctly rounded float32 result.
      const steps: Record<string, (v: number) => number> = {
        "x * 3 + 1": (v) => f32(f32(v * 3) + 1),
        "x / 7 - x": (v) => f32(f32(v / 7) - v),
      };
      const want = Array.from(g, (v) => f32((steps[name] ?? expected)(v)));
      for (const backend of backends) expect(on(backend, unary(body), g), backend).toEqual(want);
    });
  }
});

describe("fusion", () => {
  it("a subexpression that reductions and kernels build each on their own is one node of the pass", () => {
    // Two reductions and the next kernel's body each write x - 1 anew.
    const reducing = buildKernel(
      declare({
        name: "probe",
        reductions: {
          r: { over: "tree", of: ({ x }) => [e.sub(x, 1), x] },
          q: { over: "tree", of: ({ x }) => [e.sub(x, 1), e.sub(x, 1)] },
        },
        body: ({ x }) => ({ update: x }),
      }),
    );
    const before = buildKernel(declare({ name: "probe", body: ({ x }) => ({ update: e.mul(e.sub(x, 1), 2) }) }));
    const pass = fuse([{ k: 0, kernel: before }], { k: 1, kernel: reducing }, { compute: "f64", update: "f64" })!;
    const subs = topologicalOrder(passRoots(pass)).filter((n) => n.op === "sub");
    // x - 1 of the input, then u - 1 of the first kernel's update u = (x - 1) * 2: two, not four.
    expect(subs).toHaveLength(2);
  });

  it("a stage the next computes again only sums: no store, the sums over its value", () => {
    const reducing = buildKernel(
      declare({ name: "probe", reductions: { r: { over: "tree", norm: "x" } }, body: ({ x }) => ({ update: x }) }),
    );
    const before = buildKernel(declare({ name: "probe", body: ({ x }) => ({ update: e.mul(x, 2) }) }));
    const types = { compute: "f32", update: "f32" } as const;
    const stored = fuse([{ k: 0, kernel: before }], { k: 1, kernel: reducing }, types)!;
    const summed = fuse([{ k: 0, kernel: before }], { k: 1, kernel: reducing }, types, false, false)!;
    expect(stored.stores.map((s) => s.buffer)).toEqual(["out"]);
    expect(summed.stores).toEqual([]);
    expect(summed.buffers).toEqual(["in"]);
    expect(summed.reductions).toEqual(stored.reductions);
  });
});

describe("a slot the body leaves as it is (DoWG's initial params)", () => {
  const x0 = () => ({ a: Float32Array.of(1, -2, 3), b: Float64Array.from({ length: 40 }, (_, i) => i / 7 - 2) });
  const grad = (t: number) => ({
    a: Float32Array.of(0.5, -t, 2),
    b: Float64Array.from({ length: 40 }, (_, i) => Math.sin(i + t)),
  });
  const initParams = (state: unknown) => (state as { initParams: PyTree }).initParams;

  it("is no store of its kernel's pass", () => {
    const kernel = buildKernel(
      declare({
        name: "probe",
        slots: { x0: "params", m: 0 },
        readsParams: true,
        body: ({ x, p, x0, m }) => ({ update: e.sub(p, x0), x0, m: e.add(m, x) }),
      }),
    );
    expect(kernel.keeps).toEqual([false, true]);
    const pass = fuse([{ k: 0, kernel }], undefined, { compute: "f64", update: "f64" })!;
    expect(pass.stores.map((s) => s.buffer).sort()).toEqual(["0.m'", "out"]);
  });

  it("goes on as the very same array on the pure path, and keeps its values on every path", () => {
    const tx = scaleByDowg();
    let params: PyTree = x0();
    let state = tx.init(params);
    const first = initParams(state);
    let donated = tx.init(x0());
    let donatedParams: PyTree = x0();
    const run = compile(scaleByDowg(), x0());
    for (let t = 0; t < 4; t++) {
      const [u, next]: readonly [PyTree, typeof state] = tx.update(grad(t), state, params);
      tree.leaves(initParams(next)).forEach((leaf, i) => expect(leaf).toBe(tree.leaves(first)[i]));
      params = applyUpdates(params, u);
      state = next;
      const [du, dnext]: readonly [PyTree, typeof state] = tx.update(grad(t), donate(donated), donatedParams);
      donatedParams = applyUpdates(donate(donatedParams), du);
      donated = dnext;
      run.step(grad(t));
    }
    // The donated state moved into an arena on its first step, and its kept slot with its values.
    expectBitEqual(initParams(donated), x0(), "donated initParams");
    expectBitEqual(initParams(run.state()), x0(), "compiled initParams");
    expectBitEqual(donatedParams, params, "donated params");
    expectBitEqual(run.params, params, "compiled params");
    run.dispose();
  });
});

describe("min and max with a number the same in every lane (run as pmin / pmax and masks)", () => {
  // Math.min and Math.max order NaNs and signed zeros as IEEE 754-2019 minimum and maximum do.
  const numbers = [0, -0, NaN, Infinity, -Infinity, 1, -1, 0.5, 3, 1e-40, -1e-310];
  const cases = (["min", "max"] as const).flatMap((op) =>
    [false, true].flatMap((first) => [Float32Array, Float64Array].map((ctor) => ({ op, first, ctor }))),
  );
  for (const { op, first, ctor } of cases) {
    const f = ctor === Float32Array ? Math.fround : (v: number) => v;
    it(`${op}(${first ? "c, x" : "x, c"}), ${ctor.name}: a per-step c and a constant c, each of them`, () => {
      const g = ctor.from([...edges, ...numbers]);
      for (const c of numbers) {
        const kernels = [
          elementwise(
            declare({
              name: "probe",
              hyper: { c },
              body: ({ x }, s) => ({ update: first ? e[op](s.c, x) : e[op](x, s.c) }),
            }),
          ),
          unary((x) => (first ? e[op](e.constant(c), x) : e[op](x, e.constant(c)))),
        ];
        const want = Array.from(g, (v) => f(Math[op](v, f(c))));
        for (const tx of kernels)
          for (const backend of backends) expect(on(backend, tx, g), `${backend}, c = ${c}`).toEqual(want);
      }
    });
  }
  it("any float32 or float64 x and c, both backends", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double(), { minLength: 1, maxLength: 40 }),
        fc.double(),
        fc.constantFrom("min" as const, "max" as const),
        fc.boolean(),
        (xs, c, op, single) => {
          const f = single ? Math.fround : (v: number) => v;
          const g = single ? Float32Array.from(xs) : Float64Array.from(xs);
          const tx = elementwise(
            declare({ name: "probe", hyper: { c }, body: ({ x }, s) => ({ update: e[op](x, s.c) }) }),
          );
          const want = Array.from(g, (v) => f(Math[op](v, f(c))));
          for (const backend of backends) expect(on(backend, tx, g)).toEqual(want);
        },
      ),
    );
  });
});

describe("the WebAssembly and JavaScript backends give the same bits", () => {
  const withLookahead = catalogue.flatMap((entry) => [
    entry,
    {
      ...entry,
      name: `chain(clip, lookahead(${entry.name}))`,
      make: (lr: number) => chain(clipByGlobalNorm(0.5), lookahead(entry.make(lr), { syncPeriod: 2 })),
    },
  ]);
  it("every catalogue optimizer, plain and in Lookahead, over random trees of float32, float64 and ndarray leaves", () => {
    fc.assert(
      fc.property(arbitraryProblem({ maxSteps: 6 }), fc.constantFrom(...withLookahead), ({ params, grads }, entry) => {
        const [wasm, js] = backends.map((backend) =>
          withBackend(backend, () => trajectory(entry.make(entry.lr), params, (_, t) => grads[t]!, grads.length)),
        );
        wasm!.forEach((point, t) => {
          expectBitEqual(point.updates, js![t]!.updates, `${entry.name}: updates at step ${t + 1}`);
          expectBitEqual(point.params, js![t]!.params, `${entry.name}: params at step ${t + 1}`);
        });
      }),
      { numRuns: 60 },
    );
  });

  it("a leaf longer than a block: both loops, several blocks, a tail", () => {
    const n = 3 * BLOCK + 7;
    const g = {
      a: new Float32Array(n).map((_, j) => Math.sin(j) * 3),
      b: new Float64Array(n).map((_, j) => Math.cos(j)),
    };
    const tx = chain(clipByGlobalNorm(1), lookahead(catalogue[3]!.make(0.01), { syncPeriod: 1 }));
    const [wasm, js] = backends.map((backend) => withBackend(backend, () => trajectory(tx, g, () => g, 3)));
    wasm!.forEach((point, t) => expectBitEqual(point.params, js![t]!.params, `params at step ${t + 1}`));
  });
});

describe("reductions", () => {
  /**
   * Sums x * x and x * y; with `computed`, also d * d and d * x for d = x - y, whose factor is
   * not a buffer's own vector (the generated code loads a buffer's halves where it can), the
   * count, the sum of x and the count of x < y.
   */
  const sumPass = (dtype: "f32" | "f64", computed = false): Pass => {
    const [a, b] = [e.input("x"), e.input("y")];
    const d = e.sub(a, b);
    const one = e.constant(1);
    return {
      dtype,
      buffers: ["x", "y"],
      scalars: [],
      stores: [],
      reductions: [
        { a, b: a },
        { a, b },
        ...(computed
          ? [
              { a: d, b: d },
              { a: d, b: a },
              // A factor of 1 is left out: a count, a sum, and a count of a condition.
              { a: one, b: one },
              { a, b: one },
              { a: e.select(e.lt(a, b), 1, 0), b: one },
            ]
          : []),
      ],
    };
  };
  /** The reductions of `sumPass(dtype, true)`. */
  const R = 7;
  /**
   * A pass summing the reductions of `sumPass(dtype, true)` over leaves `[x, y]`, run in one
   * call: the block sums per backend, leaf after leaf.
   */
  const blockSumsOf = (dtype: "f32" | "f64", leaves: readonly (readonly [number[], number[]])[]) => {
    const pass = sumPass(dtype, true);
    const Float = dtype === "f32" ? Float32Array : Float64Array;
    const at: number[] = [];
    let blocks = 0;
    for (const [x] of leaves) {
      at.push(R * blocks);
      blocks += Math.ceil(x.length / BLOCK);
    }
    return backends.map((backend) =>
      withBackend(backend, () => {
        const results = new Float64Array(R * blocks);
        const columns = [leaves.map(([x]) => Float.from(x)), leaves.map(([, y]) => Float.from(y))];
        runnerOf(pass)(
          columns,
          leaves.map((_, i) => i),
          [],
          results,
          at,
        );
        return results;
      }),
    );
  };
  const blockSums = (dtype: "f32" | "f64", x: number[], y: number[]) => blockSumsOf(dtype, [[x, y]]);
  // Lengths on both sides of a whole vector, of a whole unrolled group and of a block.
  const length = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: BLOCK - 20, max: BLOCK + 40 }));

  it("both backends add each block's products in the same order, for any length and dtype", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("f32" as const, "f64" as const),
        length.chain((n) =>
          fc.tuple(
            fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: n, maxLength: n }),
            fc.array(fc.double({ min: -1e-3, max: 1e9, noNaN: true }), { minLength: n, maxLength: n }),
          ),
        ),
        (dtype, [x, y]) => {
          const [wasm, js] = blockSums(dtype, x, y);
          expectBitEqual(wasm, js, `${dtype}, ${x.length} elements`);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("every element is summed once: small integers, whose sums are exact in any order", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("f32" as const, "f64" as const),
        length.chain((n) => fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: n, maxLength: n })),
        (dtype, x) => {
          const y = x.map((v, j) => (j % 5) - v);
          const exact = [0, 0, 0, 0, x.length, 0, 0];
          x.forEach((v, j) => {
            const d = v - y[j]!;
            exact[0]! += v * v;
            exact[1]! += v * y[j]!;
            exact[2]! += d * d;
            exact[3]! += d * v;
            exact[5]! += v;
            exact[6]! += v < y[j]! ? 1 : 0;
          });
          for (const sums of blockSums(dtype, x, y)) {
            const total = [0, 1, 2, 3, 4, 5, 6].map((r) =>
              sums.filter((_, k) => k % R === r).reduce((s, v) => s + v, 0),
            );
            expect(total).toEqual(exact);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it("leaves run in one call sum as each leaf alone, on both backends: packing moves no block", () => {
    const leaf = length.chain((n) =>
      fc.tuple(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: n, maxLength: n }),
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: n, maxLength: n }),
      ),
    );
    fc.assert(
      fc.property(
        fc.constantFrom("f32" as const, "f64" as const),
        fc.array(leaf, { minLength: 1, maxLength: 12 }),
        (dtype, leaves) => {
          const together = blockSumsOf(dtype, leaves);
          const alone = leaves.map(([x, y]) => blockSums(dtype, x, y));
          for (const b of [0, 1]) {
            const expected = Float64Array.from(alone.flatMap((sums) => [...sums[b]!]));
            expectBitEqual(together[b]!, expected, `${dtype}, ${leaves.length} leaves, backend ${b}`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  /** `memory` as a compiled step's: its sums at byte 4096, its table at 16384, one thread. */
  const residentOn = (memory: Resident["memory"]): Resident => ({
    memory,
    buffer: memory.buffer,
    results: 4096,
    resultBytes: 4096,
    pool: undefined,
    table: new Int32Array(memory.buffer, 16384, 4096),
    tableUsed: 0,
  });

  it("in place, a call on the same lists runs its own leaves: another set of as many, from the same first leaf, too", () => {
    // Three leaves of x = (1, 2, ..., 10) times 1, 2 and 3, and y = 1, in a memory of their own:
    // one block each, so leaf i's sums are sum(x*x) = 385 (i + 1)^2 and sum(x*y) = 55 (i + 1).
    const memory = new wasmApi!.Memory({ initial: 1, maximum: 1 });
    const leafAt = (k: number) => new Float32Array(memory.buffer, 64 * k, 10);
    for (const i of [0, 1, 2]) leafAt(i).set(Array.from({ length: 10 }, (_, j) => (j + 1) * (i + 1)));
    for (const k of [3, 4, 5]) leafAt(k).fill(1);
    const home = residentOn(memory);
    const columns = [[0, 1, 2].map(leafAt), [3, 4, 5].map(leafAt)];
    const run = withBackend("wasm", () => runnerOf(sumPass("f32")));
    const sumsOf = (leaves: number[]) => {
      const results = new Float64Array(6).fill(NaN);
      withResident(home, () => run(columns, leaves, [], results, [0, 2, 4]));
      return [...results];
    };
    const expected = (i: number) => [385 * (i + 1) ** 2, 55 * (i + 1)];
    for (let step = 0; step < 2; step++) {
      expect(sumsOf([0, 2])).toEqual([...expected(0), NaN, NaN, ...expected(2)]);
      expect(sumsOf([0, 1])).toEqual([...expected(0), ...expected(1), NaN, NaN]);
    }
  });

  it("a loop reads only its leaves: leaves that end at their memory's end run in place", () => {
    // Two pages; x fills the second to its last byte and y ends 16 KiB into it, so any read past
    // a leaf (the loops touch their inputs ahead of their vectors) would be out of bounds or
    // another leaf's.
    const memory = new wasmApi!.Memory({ initial: 2, maximum: 2 });
    const n = 4096;
    const x = new Float32Array(memory.buffer, 65536 + 65536 - 4 * n, n);
    x.set(Array.from({ length: n }, (_, j) => (j % 7) - 3));
    const y = new Float32Array(memory.buffer, 65536, n).fill(0.5);
    const out = new Float32Array(memory.buffer, 65536 + 4 * n, n);
    const home = residentOn(memory);
    const results = new Float64Array(2).fill(NaN);
    withResident(home, () => withBackend("wasm", () => runnerOf(sumPass("f32")))([[x], [y]], [0], [], results, [0]));
    // sum over j of ((j mod 7) - 3)^2 and of ((j mod 7) - 3) / 2, exactly: 4096 = 585 * 7 + 1.
    expect([...results]).toEqual([585 * 28 + 9, -1.5]);
    const scale: Pass = {
      dtype: "f32",
      buffers: ["x", "out"],
      scalars: [],
      stores: [{ buffer: "out", value: e.mul(e.input("x"), e.constant(2)) }],
      reductions: [],
    };
    withResident(home, () => withBackend("wasm", () => runnerOf(scale))([[x], [out]], [0], [], undefined, undefined));
    expect(Array.from(out)).toEqual(Array.from(x, (v) => 2 * v));
  });

  it("block sums add up in order, compensated: 1e16 + 1 - 1e16 keeps the 1", () => {
    expect(sumBlocks([1e16, 1, -1e16])).toBe(1);
    expect(sumBlocks([1, 2, 3], 1, 3)).toBe(5);
    expect(sumBlocks([Infinity, 1])).toBe(Infinity);
  });

  it("the global norm does not overflow where its squares would: (3e200, 4e200) has norm 5e200", () => {
    for (const backend of backends)
      withBackend(backend, () => {
        const tx = clipByGlobalNorm(1e200);
        const g = Float64Array.of(3e200, 4e200);
        const [u] = tx.update(g, tx.init(g));
        // Clipped by 1e200 / 5e200: (0.6e200, 0.8e200), each within an ulp of the exact value.
        const [a, b] = Array.from(u as Float64Array);
        expect(Math.abs(a! - 6e199) / 6e199).toBeLessThan(4e-16);
        expect(Math.abs(b! - 8e199) / 8e199).toBeLessThan(4e-16);
      });
  });
});
