/**
 * Extra arguments: `update(updates, state, params, extra)`. Every way a transformation runs hands
 * `extra` on as the caller gave it, to the parts that read it; the executor checks it once per
 * step, as options are checked.
 */
import { describe, expect, it } from "vitest";
import {
  applyIfFinite,
  chain,
  compile,
  injectHyperparams,
  lookahead,
  masked,
  multiSteps,
  multiTransform,
  scale,
  sgd,
  updateEither,
  type EmptyState,
  type ExtraArgs,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { initEmpty } from "../src/core/base.js";
import { caught } from "./helpers.js";

/** A user's own transformation (an opaque barrier) that passes updates through and records the `extra` it got. */
function recorder(): { readonly tx: GradientTransformation<EmptyState>; readonly seen: (ExtraArgs | undefined)[] } {
  const seen: (ExtraArgs | undefined)[] = [];
  return {
    seen,
    tx: { init: (p) => initEmpty(p), update: (u, s, _p, extra) => (seen.push(extra), [u, s]) },
  };
}

const params = { a: Float64Array.of(1, 2), b: Float64Array.of(3) };
const grads = { a: Float64Array.of(0.5, -1), b: Float64Array.of(2) };
const valueFn = (p: PyTree) => (p as typeof params).a[0]!;
const extra: ExtraArgs = { value: 3.5, grad: grads, valueFn };

describe("extra arguments reach a user's transformation through every combinator", () => {
  const wrappers: [string, (inner: GradientTransformation<EmptyState>) => GradientTransformation][] = [
    ["on its own", (inner) => inner],
    ["in a chain, between kernels", (inner) => chain(scale(2), inner, scale(0.5))],
    ["inside lookahead (the fast params' value, as given)", (inner) => lookahead(chain(sgd(0.1), inner))],
    ["inside masked", (inner) => masked(inner, { a: true, b: false })],
    ["inside multiTransform", (inner) => multiTransform({ x: inner, y: sgd(0.1) }, { a: "x", b: "y" })],
    ["inside injectHyperparams", (inner) => injectHyperparams((h) => chain(scale(h.s), inner), { s: 2 })],
    ["inside applyIfFinite", (inner) => applyIfFinite(inner, 2)],
    ["inside multiSteps, on the step that runs it", (inner) => multiSteps(inner, 1)],
  ];
  it.each(wrappers)("%s", (_, wrap) => {
    const { tx, seen } = recorder();
    const opt = wrap(tx);
    opt.update(grads, opt.init(params), params, extra);
    expect(seen).toHaveLength(1);
    // A checked copy: the same fields, the very same values.
    expect(seen[0]).toEqual(extra);
    expect(seen[0]!.grad).toBe(grads);
    expect(seen[0]!.valueFn).toBe(valueFn);
  });

  it("is undefined for the user's transformation when the caller gave none", () => {
    const { tx, seen } = recorder();
    const opt = chain(scale(2), tx);
    opt.update(grads, opt.init(params), params);
    expect(seen).toEqual([undefined]);
  });

  it("reaches it through compile's step, and through updateEither", () => {
    const { tx, seen } = recorder();
    const run = compile(chain(scale(-0.1), tx), params);
    run.grads.a.set(grads.a);
    run.step(undefined, { value: 1 });
    run.step(grads, { value: 2 });
    run.dispose();
    const opt = chain(scale(2), tx);
    updateEither(opt)(grads, opt.init(params), params, { value: 3 });
    expect(seen.map((e) => e?.value)).toEqual([1, 2, 3]);
  });

  it("leaves the arithmetic alone: the same bits with extra as without", () => {
    const opt = lookahead(sgd(0.1, { momentum: 0.9 }), { syncPeriod: 2 });
    let s1 = opt.init(params);
    let s2 = opt.init(params);
    for (let t = 0; t < 4; t++) {
      const [u1, n1] = opt.update(grads, s1, params);
      const [u2, n2] = opt.update(grads, s2, params, extra);
      expect(u2).toEqual(u1);
      [s1, s2] = [n1, n2];
    }
  });
});

describe("extra arguments are checked as options are", () => {
  const opt = chain(scale(2), scale(0.5));
  const state = opt.init(params);
  const call = (x: unknown) => () => opt.update(grads, state, params, x as ExtraArgs);

  it("takes null and undefined as none", () => {
    expect(() => call(null)()).not.toThrow();
    expect(() => call(undefined)()).not.toThrow();
  });

  it.each([
    ["a number", 3, /extra must be an object.*the number 3/],
    ["an array", [1], /extra must be an object.*an array/],
    ["a class instance", new Map(), /extra must be an object.*a Map/],
    [
      "a misspelt field",
      { vlaue: 1 },
      /unknown field "vlaue" \(did you mean "value"\?\); its fields are value, grad, valueFn, gradFn/,
    ],
    ["a snake_case field", { value_fn: valueFn }, /unknown field "value_fn" \(did you mean "valueFn"\?\)/],
    ["a value that is not a number", { value: "1" }, /extra\.value must be a number.*string/],
    ["a valueFn that is not a function", { valueFn: 1 }, /extra\.valueFn must be a function.*number/],
    ["a gradFn that is not a function", { gradFn: {} }, /extra\.gradFn must be a function.*object/],
  ])("refuses %s with INVALID_HYPERPARAMETER, naming the field", (_, x, message) => {
    const error = caught(call(x));
    expect(error.code).toBe("INVALID_HYPERPARAMETER");
    expect(error.message).toMatch(message);
  });

  it("refuses a grad of another structure or shape than the updates, with its path", () => {
    expect(caught(call({ grad: { a: grads.a } })).code).toBe("STRUCTURE_MISMATCH");
    const error = caught(call({ grad: { a: Float64Array.of(1), b: grads.b } }));
    expect([error.code, error.path]).toEqual(["SHAPE_MISMATCH", "a"]);
    expect(caught(call({ grad: { a: [1, 2], b: grads.b } })).code).toBe("NOT_A_PYTREE");
  });

  it("reads each field once (a getter runs once) and leaves the caller's object alone", () => {
    let reads = 0;
    const given = Object.freeze({
      get value() {
        reads++;
        return 1;
      },
    });
    const { tx, seen } = recorder();
    const o = chain(scale(1), tx);
    o.update(grads, o.init(params), params, given);
    expect(reads).toBe(1);
    expect(seen[0]!.value).toBe(1);
  });
});
