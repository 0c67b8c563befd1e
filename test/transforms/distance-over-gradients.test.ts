/**
 * Layer-wise DoG, optax's scale_by_distance_over_gradients: a six-step trajectory over two leaves
 * against the one worked out in plain Python from optax's formulas (test/fixtures/ldog.py, its
 * numbers in ldog.json), on both backends and compiled; and the per-leaf independence it promises.
 */
import { readFileSync } from "node:fs";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyUpdates, compile, scaleByDistanceOverGradients, type GradientTransformation } from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { backends } from "./first-step.js";

type Leaves = { a: Float64Array; b: Float64Array };
const fixture = JSON.parse(readFileSync(new URL("../fixtures/ldog.json", import.meta.url), "utf8")) as {
  readonly A: Record<keyof Leaves, number[]>;
  readonly B: Record<keyof Leaves, number[]>;
  readonly x0: Record<keyof Leaves, number[]>;
  readonly options: { reps_rel: number; eps: number; global_scale: number };
  readonly params: Record<keyof Leaves, number[]>[];
};
const o = fixture.options;
const make = () => scaleByDistanceOverGradients({ repsRel: o.reps_rel, eps: o.eps, globalScale: o.global_scale });
const x0 = (): Leaves => ({ a: Float64Array.from(fixture.x0.a), b: Float64Array.from(fixture.x0.b) });
const gradient = (x: Leaves): Leaves => ({
  a: x.a.map((v, i) => fixture.A.a[i]! * v + fixture.B.a[i]!),
  b: x.b.map((v, i) => fixture.A.b[i]! * v + fixture.B.b[i]!),
});

function trajectory(tx: GradientTransformation): Leaves[] {
  let x = x0();
  let state = tx.init(x);
  const out: Leaves[] = [];
  for (const _ of fixture.params) {
    const [u, next] = tx.update(gradient(x), state, x);
    x = applyUpdates(x, u as Leaves);
    state = next;
    out.push(x);
  }
  return out;
}

function expectClose(actual: readonly Leaves[], rel: number): void {
  actual.forEach((x, t) => {
    for (const key of ["a", "b"] as const)
      Array.from(x[key]).forEach((v, i) => {
        const want = fixture.params[t]![key][i]!;
        expect(Math.abs(v - want)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(want)));
      });
  });
}

describe("scaleByDistanceOverGradients (layer-wise DoG)", () => {
  it.each(backends)("follows optax's formulas for six steps, each leaf its own step size (%s)", (backend) => {
    expectClose(
      withBackend(backend, () => trajectory(make())),
      1e-12,
    );
  });

  it("gives the same bits compiled, as one kernel with nothing run as plain TypeScript", () => {
    const pure = trajectory(make());
    const run = compile(make(), x0());
    expect(run.reason).toBeUndefined();
    for (const want of pure) {
      run.step(gradient(run.params));
      expect(Array.from(run.params.a)).toEqual(Array.from(want.a));
      expect(Array.from(run.params.b)).toEqual(Array.from(want.b));
    }
    run.dispose();
  });

  it("scales each leaf by its own distance and gradients: a leaf's update does not depend on the others", () => {
    const value = fc.double({ min: -1e3, max: 1e3, noNaN: true });
    const leaves = fc
      .integer({ min: 1, max: 6 })
      .chain((n) => fc.tuple(...[0, 1].map(() => fc.array(value, { minLength: n, maxLength: n }))))
      .map(([p, g]) => [Float64Array.from(p!), Float64Array.from(g!)] as const);
    fc.assert(
      fc.property(leaves, leaves, ([p, g], [other]) => {
        const tx = scaleByDistanceOverGradients();
        const alone = (tx.update({ a: g }, tx.init({ a: p }), { a: p })[0] as Leaves).a;
        const both = (
          tx.update({ a: g, b: other }, tx.init({ a: p, b: other.map((v) => v / 2) }), {
            a: p,
            b: other.map((v) => v / 2),
          })[0] as Leaves
        ).a;
        expect(Array.from(both)).toEqual(Array.from(alone));
      }),
    );
  });
});
