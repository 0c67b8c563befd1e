/**
 * Every trajectory of test/fixtures/torch-trajectories.json (torch 1.13 and the Lookahead
 * authors' own PyTorch wrapper, cross-checked against a numpy re-implementation of the optax
 * formulas) reproduced in float64 within 1e-12 absolute: fast weights, slow weights, the inner
 * optimizer's state and, for the clipping case, the clipped gradient and its global norm.
 */
import { readFileSync } from "node:fs";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  adam,
  adamw,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  lookahead,
  sgd,
  slowParams,
  tree,
  type GradientTransformation,
  type InnerStatePolicy,
  type LookaheadState,
  type PyTree,
} from "../src/index.js";
import { expectBitEqual, expectClose, values } from "./helpers.js";

interface FixtureTree {
  readonly b: number[];
  readonly w: number[][];
}
interface Spec {
  readonly op: string;
  readonly [key: string]: unknown;
}
interface Case {
  readonly name: string;
  readonly transform: Spec;
  readonly params: FixtureTree[];
  readonly slow_params?: FixtureTree[];
  readonly synced?: boolean[];
  readonly grads: FixtureTree[];
  readonly grads_clipped?: FixtureTree[];
  readonly grad_global_norm?: number[];
  readonly clip_triggered?: boolean[];
  readonly inner_state: Record<string, unknown>[];
  readonly equals_case?: string;
}
interface Fixture {
  readonly num_steps: number;
  readonly problem: { a: FixtureTree; c: FixtureTree; init_params: FixtureTree; noise: FixtureTree[] };
  readonly cases: Case[];
}

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/torch-trajectories.json", import.meta.url), "utf8"),
) as Fixture;
const TOLERANCE = 1e-12;

/** The fixture's `{ b: [4], w: [3][4] }` as a gradtx tree: `w` an ndarray, to exercise that leaf kind. */
function toTree(t: FixtureTree): PyTree {
  return { b: Float64Array.from(t.b), w: ndarray(Float64Array.from(t.w.flat()), [3, 4]) };
}

const { a, c, noise } = fixture.problem;
const aFlat = values(toTree(a));
const cFlat = values(toTree(c));
const noiseFlat = noise.map((n) => values(toTree(n)));

/** The fixture's gradient at the (fast) params before step t: `a * (p - c) + noise[t]`, in that order. */
function gradient(params: PyTree, t: number): PyTree {
  const g = values(params).map((p, i) => aFlat[i]! * (p - cFlat[i]!) + noiseFlat[t]![i]!);
  return { b: Float64Array.from(g.slice(0, 4)), w: ndarray(Float64Array.from(g.slice(4)), [3, 4]) };
}

function policyOf(spec: Spec): InnerStatePolicy {
  if (spec.reset_state === true) return "reset";
  if (spec.pullback_momentum === "pullback" && spec.pullback_variant === "nonaliased") return "interpolate";
  return "keep";
}

function build(spec: Spec): GradientTransformation {
  const num = (key: string): number => spec[key] as number;
  switch (spec.op) {
    case "sgd":
      return sgd(num("learning_rate"), { momentum: spec.momentum as number | null, nesterov: spec.nesterov === true });
    case "adam":
      return adam(num("learning_rate"), { b1: num("b1"), b2: num("b2"), eps: num("eps"), epsRoot: num("eps_root") });
    case "adamw":
      return adamw(num("learning_rate"), {
        b1: num("b1"),
        b2: num("b2"),
        eps: num("eps"),
        epsRoot: num("eps_root"),
        weightDecay: num("weight_decay"),
      });
    case "lookahead":
      return lookahead(build(spec.fast_optimizer as Spec), {
        syncPeriod: num("sync_period"),
        alpha: num("slow_step_size"),
        innerState: policyOf(spec),
      });
    case "chain":
      return chain(...(spec.transforms as Spec[]).map(build));
    case "clip_by_global_norm":
      return clipByGlobalNorm(num("max_norm"));
    default:
      throw new Error(`unknown op ${spec.op}`);
  }
}

/** The lookahead state inside a state of one of the fixture's transforms, if any. */
function findLookahead(state: unknown): LookaheadState | undefined {
  if (Array.isArray(state)) return state.map(findLookahead).find((s) => s !== undefined);
  if (typeof state === "object" && state !== null && "slow" in state) return state as LookaheadState;
  return undefined;
}

/** The optax-named inner state (`{count, mu, nu}`, `{trace}` or `{}`) inside an optimizer's chain state. */
function innerStateOf(state: unknown): Record<string, unknown> {
  const la = findLookahead(state);
  const parts = (la ? la.inner : state) as unknown[];
  return Object.assign({}, ...parts.filter((s) => typeof s === "object" && s !== null && !("slow" in s)));
}

/** Compares an inner state with the fixture's, key by key (numbers exactly, trees within tolerance). */
function expectInnerState(actual: Record<string, unknown>, expected: Record<string, unknown>, label: string): void {
  // A stateless part's record of the params' shapes is gradtx's own check, not optimizer state.
  const keys = Object.keys(actual).filter((key) => key !== "shapes");
  expect(keys.sort(), label).toEqual(Object.keys(expected).sort());
  for (const [key, value] of Object.entries(expected)) {
    if (typeof value === "number") expect(actual[key], `${label}.${key}`).toBe(value);
    else expectClose(actual[key] as PyTree, toTree(value as FixtureTree), TOLERANCE, `${label}.${key}`);
  }
}

function run(
  tx: GradientTransformation,
  steps: number,
  afterStep?: (state: unknown, t: number) => unknown,
): { params: PyTree[]; slow: PyTree[]; states: unknown[]; grads: PyTree[]; updates: PyTree[] } {
  let params = toTree(fixture.problem.init_params);
  let state = tx.init(params);
  const out = {
    params: [] as PyTree[],
    slow: [] as PyTree[],
    states: [] as unknown[],
    grads: [] as PyTree[],
    updates: [] as PyTree[],
  };
  for (let t = 0; t < steps; t++) {
    const g = gradient(params, t);
    const [u, next] = tx.update(g, state, params);
    params = applyUpdates(params, u);
    state = afterStep ? afterStep(next, t) : next;
    out.params.push(params);
    out.states.push(state);
    out.grads.push(g);
    out.updates.push(u);
    if (findLookahead(state)) out.slow.push(slowParams(state));
  }
  return out;
}

// The authors' "pullback" aliases its momentum cache; gradtx does not copy that bug (see below).
const reproducible = fixture.cases.filter((k) => k.name !== "lookahead_sgdm_k3_a0.8_pullback");

describe("reference trajectories (torch 1.13 and the authors' Lookahead, float64, within 1e-12)", () => {
  it("the fixture holds the 16 documented cases", () => {
    expect(fixture.cases).toHaveLength(16);
    expect(fixture.num_steps).toBe(25);
  });

  for (const kase of reproducible) {
    describe(kase.name, () => {
      const result = run(build(kase.transform), fixture.num_steps);

      it("computes the fixture's gradients: bit for bit at the fixture's params, within tolerance at ours", () => {
        kase.grads.forEach((g, t) => {
          const at = t === 0 ? fixture.problem.init_params : kase.params[t - 1]!;
          expectBitEqual(gradient(toTree(at), t), toTree(g), `gradient formula at step ${t + 1}`);
          // a <= 15 amplifies the 1e-12 agreement of the params.
          expectClose(result.grads[t]!, toTree(g), 15 * TOLERANCE, `grads[${t}]`);
        });
      });

      it("matches the (fast) params after every step", () => {
        kase.params.forEach((p, t) => expectClose(result.params[t]!, toTree(p), TOLERANCE, `params[${t}]`));
      });

      it("matches the inner optimizer's state after every step", () => {
        kase.inner_state.forEach((s, t) => expectInnerState(innerStateOf(result.states[t]), s, `inner_state[${t}]`));
      });

      if (kase.slow_params) {
        it("matches the slow weights after every step, and syncs on the same steps", () => {
          kase.slow_params!.forEach((p, t) => expectClose(result.slow[t]!, toTree(p), TOLERANCE, `slow_params[${t}]`));
          const synced = kase.synced!;
          synced.forEach((isSync, t) => {
            if (isSync) expectBitEqual(result.params[t]!, result.slow[t]!, `fast == slow after sync step ${t + 1}`);
          });
          expect(synced.filter(Boolean).length).toBeGreaterThan(0);
        });
      }

      if (kase.grads_clipped) {
        it("clips the raw gradient exactly as the fixture, with the same global norm", () => {
          const clip = clipByGlobalNorm(1);
          kase.grads_clipped!.forEach((gc, t) => {
            const g = result.grads[t]!;
            // The fixture sums with math.fsum (correctly rounded); compensated summation is within an ulp.
            const norm = kase.grad_global_norm![t]!;
            expect(Math.abs(tree.globalNorm(toTree(kase.grads[t]!)) - norm)).toBeLessThanOrEqual(Number.EPSILON * norm);
            const [clipped] = clip.update(g, clip.init(g));
            expect(clipped !== g, `clip triggered at step ${t + 1}`).toBe(kase.clip_triggered![t]);
            expectClose(clipped, toTree(gc), TOLERANCE, `grads_clipped[${t}]`);
          });
        });
      }

      if (kase.equals_case) {
        it(`equals case ${kase.equals_case} (alpha = 1 is the inner optimizer)`, () => {
          const other = fixture.cases.find((k) => k.name === kase.equals_case)!;
          other.params.forEach((p, t) => expectClose(result.params[t]!, toTree(p), TOLERANCE, `params[${t}]`));
        });
      }
    });
  }

  describe("lookahead_sgdm_k3_a0.8_pullback (the authors' aliased cache)", () => {
    const kase = fixture.cases.find((k) => k.name === "lookahead_sgdm_k3_a0.8_pullback")!;
    const alpha = 0.8;
    const tx = lookahead(sgd(0.05, { momentum: 0.9 }), { syncPeriod: 3, alpha });

    it("is reproduced from plain state: momentum scaled by alpha at the first sync, alpha(2 - alpha) after", () => {
      // The state is plain data, so the authors' behaviour is a few lines over innerState "keep".
      const result = run(tx, fixture.num_steps, (state, t) => {
        if ((t + 1) % 3 !== 0) return state;
        const s = state as LookaheadState<[{ trace: PyTree }, unknown]>;
        const factor = t + 1 === 3 ? alpha : alpha * (2 - alpha);
        return { ...s, inner: [{ trace: tree.scale(factor, s.inner[0].trace) }, s.inner[1]] };
      });
      kase.params.forEach((p, t) => expectClose(result.params[t]!, toTree(p), TOLERANCE, `params[${t}]`));
      kase.slow_params!.forEach((p, t) => expectClose(result.slow[t]!, toTree(p), TOLERANCE, `slow_params[${t}]`));
    });

    it('is not what innerState "interpolate" does: they agree up to the second sync and then part', () => {
      const ours = run(
        lookahead(sgd(0.05, { momentum: 0.9 }), {
          syncPeriod: 3,
          alpha,
          innerState: "interpolate",
        }),
        fixture.num_steps,
      );
      for (let t = 0; t < 6; t++) expectClose(ours.params[t]!, toTree(kase.params[t]!), TOLERANCE, `params[${t}]`);
      const gap = Math.max(...values(ours.params[6]!).map((x, i) => Math.abs(x - values(toTree(kase.params[6]!))[i]!)));
      expect(gap).toBeGreaterThan(1e-6);
    });
  });
});
