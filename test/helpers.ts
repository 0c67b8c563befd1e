/** Small helpers the test files share: running trajectories and comparing trees. */
import { expect } from "vitest";
import { applyUpdates, GradTxError, type GradientTransformation, type PyTree } from "../src/index.js";
import { dataOf, flatten } from "../src/core/pytree.js";

/** A function from the current params to the gradient at them. */
export type GradientFn = (params: PyTree, step: number) => PyTree;

/** One point of a trajectory: the params after the step and the state after it. */
export interface TrajectoryPoint<S> {
  readonly params: PyTree;
  readonly state: S;
  readonly updates: PyTree;
}

/** Runs `tx` for `steps` steps from `params`, feeding `grad(params)`; returns every point. */
export function trajectory<S>(
  tx: GradientTransformation<S>,
  params: PyTree,
  grad: GradientFn,
  steps: number,
  state: S = tx.init(params),
): TrajectoryPoint<S>[] {
  const out: TrajectoryPoint<S>[] = [];
  let p = params;
  let s = state;
  for (let t = 0; t < steps; t++) {
    const [u, next] = tx.update(grad(p, t), s, p);
    p = applyUpdates(p, u);
    s = next;
    out.push({ params: p, state: s, updates: u });
  }
  return out;
}

/** All elements of a tree, in canonical order, as one plain array. */
export function values(tree: PyTree): number[] {
  return flatten(tree).leaves.flatMap((leaf) => Array.from(dataOf(leaf)));
}

/** Asserts two trees have equal elements within `tolerance` (absolute), naming the first bad index. */
export function expectClose(actual: PyTree, expected: PyTree, tolerance: number, label = ""): void {
  const a = values(actual);
  const e = values(expected);
  expect(a.length, `${label}: element count`).toBe(e.length);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i]! - e[i]!) <= tolerance || (Number.isNaN(a[i]!) && Number.isNaN(e[i]!));
    if (!ok) expect.fail(`${label}: element ${i}: got ${a[i]}, expected ${e[i]} (tolerance ${tolerance})`);
  }
}

/** Asserts two trees have bit-identical elements (NaN equals NaN, 0 differs from -0). */
export function expectBitEqual(actual: PyTree, expected: PyTree, label = ""): void {
  const a = values(actual);
  const e = values(expected);
  expect(a.length, `${label}: element count`).toBe(e.length);
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], e[i])) expect.fail(`${label}: element ${i}: got ${a[i]}, expected ${e[i]}`);
}

/** A deep copy of a tree's leaves' bits, to check later that nothing was mutated. */
export function snapshot(tree: PyTree): number[] {
  return values(tree);
}

/** The numbers of a state (typed-array leaves and counts), in a fixed key order, as one tree. */
export function stateTree(state: unknown): PyTree {
  const out: PyTree[] = [];
  const walk = (x: unknown): void => {
    if (x instanceof Float32Array || x instanceof Float64Array) out.push(x);
    else if (typeof x === "number") out.push(Float64Array.of(x));
    else if (Array.isArray(x)) x.forEach(walk);
    else if (typeof x === "object" && x !== null)
      Object.keys(x)
        .sort()
        .forEach((k) => walk((x as Record<string, unknown>)[k]));
  };
  walk(state);
  return out;
}

/** The code and path of the GradTxError `thunk` throws, as "CODE path" ("CODE" without a path). */
export function codeOf(thunk: () => unknown): string {
  try {
    thunk();
  } catch (e) {
    if (e instanceof GradTxError) return `${e.code} ${e.path ?? ""}`.trim();
    throw e;
  }
  throw new Error("did not throw");
}

/** The GradTxError `thunk` throws (a test failure if it throws something else, or nothing). */
export function caught(thunk: () => unknown): GradTxError {
  try {
    thunk();
  } catch (e) {
    expect(e).toBeInstanceOf(GradTxError);
    return e as GradTxError;
  }
  throw new Error("expected a GradTxError, nothing was thrown");
}
