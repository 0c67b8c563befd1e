/**
 * From a transformation's {@link Description} to a program: the stream of elementwise operations
 * one training step performs on each element, the state buffers they read and write, the scalars
 * they take per step, and how to read and write the pure state that the buffers stand for.
 *
 * The shape it accepts, after flattening chains:
 *
 * ```
 * pre* core? post* (lookahead around any suffix, last)
 * pre  = clipByGlobalNorm | addDecayedWeights | scale | scaleBySchedule
 * core = scaleByAdam | trace            (at most one)
 * post = addDecayedWeights | scale | scaleBySchedule
 * ```
 *
 * which covers `sgd`, `adam`, `adamw`, `nadam` and their `lookahead`, with clipping and weight
 * decay in front. Anything else is {@link Unsupported}, and runs on the pure path.
 *
 * @module
 */
import { EMPTY_STATE, type GradientTransformation, type Schedule } from "../base.js";
import { GradTxError } from "../errors.js";
import { unflatten, type Flat, type FloatArray } from "../pytree.js";
import { resolveMask, type Mask } from "../transforms/adding.js";
import { stateCount, stateLeaves, stateRecord } from "../state.js";
import { descriptionOf } from "./describe.js";
import {
  add,
  div,
  get,
  konst,
  load,
  mul,
  scalar,
  set,
  sqrt,
  store,
  sub,
  type Expr,
  type Kernel,
  type Stmt,
} from "./wasm.js";

/** Thrown while planning: what the compiled path cannot run, and where. */
export class Unsupported extends Error {}

/** A step counter, as a transformation's state keeps it. */
export interface Counter {
  count: number;
}

/** One operation of the elementwise stream `x` (the gradient at first, the update at the end). */
export type Op =
  | { readonly t: "scale"; readonly step: number }
  | { readonly t: "schedule"; readonly schedule: Schedule; readonly counter: Counter; readonly slot: number }
  | { readonly t: "clip"; readonly maxNorm: number; readonly slot: number }
  | { readonly t: "decay"; readonly perLeaf: readonly number[]; readonly slot: number };

/** The stateful core of the stream. */
export type Core =
  | {
      readonly t: "adam";
      readonly b1: number;
      readonly b2: number;
      readonly eps: number;
      readonly epsRoot: number;
      readonly nesterov: boolean;
      readonly counter: Counter;
      readonly mu: number;
      readonly nu: number;
      readonly slot: number;
    }
  | { readonly t: "trace"; readonly decay: number; readonly nesterov: boolean; readonly trace: number };

/** The Lookahead around the end of the stream. */
export interface LookaheadPlan {
  readonly syncPeriod: number;
  readonly alpha: number;
  readonly reset: boolean;
  readonly counter: Counter;
  readonly slow: number;
  /** The counters of the inner optimizer, set back to 0 by a reset. */
  readonly innerCounters: Counter[];
  /** Whether the core is inside (so that a reset zeroes its buffers). */
  coreInside: boolean;
  /** Set once the inner optimizer is planned: nothing may follow a Lookahead. */
  closed: boolean;
}

/** Reads and writes the pure state one transformation stands for. */
export interface StateNode {
  /** The pure state, copied out of the buffers. */
  snapshot(): unknown;
  /** Loads a pure state into the buffers and counters. */
  restore(state: unknown): void;
}

/** Buffer roles: 0 is the gradient, 1 the params; state buffers follow. */
export const GRAD = 0;
export const PARAMS = 1;

/** A planned program. */
export interface Program {
  readonly pre: Op[];
  core: Core | null;
  readonly post: Op[];
  lookahead: LookaheadPlan | null;
  /** Number of buffer roles (gradient, params, state buffers). */
  roles: number;
  /** Number of scalar slots per kernel call. */
  slots: number;
  /**
   * With Adam as the core and no weight decay: the first of four slots holding the per-step
   * coefficients of the float32 kernel, which folds every scaling into Adam's (see `folded`).
   */
  folded: number | null;
  readonly root: StateNode;
}

/** What the planner needs from the runner: the params, and views of a role's buffers. */
export interface Buffers {
  readonly params: Flat;
  /** The views of role `role`, one per leaf (valid once the memory exists). */
  view(role: number): FloatArray[];
}

/** The state node of a transformation that keeps no state. */
const stateless: StateNode = { snapshot: () => EMPTY_STATE, restore: () => undefined };

/** Plans `tx` over `buffers.params`; throws {@link Unsupported} with the reason. */
export function plan(tx: GradientTransformation<unknown>, buffers: Buffers): Program {
  const program: Program = {
    pre: [],
    core: null,
    post: [],
    lookahead: null,
    roles: 2,
    slots: 0,
    folded: null,
    root: stateless,
  };
  const root = node(tx, "", program, buffers);
  const decays = [...program.pre, ...program.post].some((op) => op.t === "decay");
  if (program.core?.t === "adam" && !decays) program.folded = (program.slots += 4) - 4;
  return { ...program, root };
}

function counter(program: Program): Counter {
  const c = { count: 0 };
  if (program.lookahead?.closed === false) program.lookahead.innerCounters.push(c);
  return c;
}

/** Copies the tree `tree` (checked against the params) into the views of `role`. */
function restoreTree(where: string, tree: unknown, buffers: Buffers, role: number): void {
  const leaves = stateLeaves(where, tree, buffers.params);
  const views = buffers.view(role);
  leaves.forEach((leaf, i) => views[i]!.set(leaf));
}

/** A fresh copy of the views of `role`, as a tree shaped like the params. */
function snapshotTree(buffers: Buffers, role: number): unknown {
  return unflatten(
    buffers.params.def,
    buffers.view(role).map((v) => v.slice()),
  );
}

function push(program: Program, op: Op, where: string): void {
  if (program.lookahead?.closed) throw new Unsupported(`${where}: runs after a lookahead`);
  (program.core === null ? program.pre : program.post).push(op);
}

function node(tx: GradientTransformation<unknown>, where: string, program: Program, buffers: Buffers): StateNode {
  const d = descriptionOf(tx);
  const at = where === "" ? "the transformation" : where;
  if (d === undefined) throw new Unsupported(`${at} has no compiled form`);
  switch (d.kind) {
    case "identity":
      return stateless;
    case "scale":
      push(program, { t: "scale", step: d.step }, at);
      return stateless;
    case "clipByGlobalNorm":
      if (program.core !== null) throw new Unsupported(`${at}: clipByGlobalNorm after the optimizer's moments`);
      push(program, { t: "clip", maxNorm: d.maxNorm, slot: (program.slots += 3) - 3 }, at);
      return stateless;
    case "addDecayedWeights": {
      const mask: Mask | undefined = d.mask;
      const decayed = mask === undefined ? null : resolveMask("addDecayedWeights", mask, buffers.params);
      const perLeaf = buffers.params.leaves.map((_, i) => (decayed === null || decayed[i] ? d.weightDecay : 0));
      push(program, { t: "decay", perLeaf, slot: program.slots++ }, at);
      return stateless;
    }
    case "scaleBySchedule": {
      const c = counter(program);
      push(program, { t: "schedule", schedule: d.schedule, counter: c, slot: program.slots++ }, at);
      return {
        snapshot: () => ({ count: c.count }),
        restore(state) {
          const s = stateRecord<{ count: unknown }>("scaleBySchedule", state, ["count"]);
          c.count = stateCount("scaleBySchedule", s.count);
        },
      };
    }
    case "scaleByAdam":
    case "trace":
      return core(d, at, program, buffers);
    case "chain": {
      const parts = d.parts.map((part, i) => node(part, `${where}[${i}]`, program, buffers));
      return {
        snapshot: () => parts.map((p) => p.snapshot()),
        restore(state) {
          if (!Array.isArray(state) || state.length !== parts.length)
            throw new GradTxError("BAD_STATE", `chain: expected an array of ${parts.length} states`, where);
          parts.forEach((p, i) => p.restore(state[i]));
        },
      };
    }
    case "lookahead": {
      if (program.lookahead !== null) throw new Unsupported(`${at}: a lookahead inside a lookahead`);
      if (d.innerState === "interpolate") throw new Unsupported(`${at}: lookahead with innerState "interpolate"`);
      const c = counter(program);
      const la: LookaheadPlan = {
        syncPeriod: d.syncPeriod,
        alpha: d.alpha,
        reset: d.innerState === "reset",
        counter: c,
        slow: program.roles++,
        innerCounters: [],
        coreInside: false,
        closed: false,
      };
      program.lookahead = la;
      const inner = node(d.inner, `${where}.inner`, program, buffers);
      la.closed = true;
      return {
        snapshot: () => ({ count: c.count, slow: snapshotTree(buffers, la.slow), inner: inner.snapshot() }),
        restore(state) {
          const s = stateRecord<{ count: unknown; slow: unknown; inner: unknown }>("lookahead", state, [
            "count",
            "slow",
            "inner",
          ]);
          c.count = stateCount("lookahead", s.count);
          restoreTree("lookahead.slow", s.slow, buffers, la.slow);
          inner.restore(s.inner);
        },
      };
    }
  }
}

function core(
  d: Extract<ReturnType<typeof descriptionOf>, { kind: "scaleByAdam" | "trace" }>,
  at: string,
  program: Program,
  buffers: Buffers,
): StateNode {
  if (program.core !== null) throw new Unsupported(`${at}: a second stateful transformation in one stream`);
  if (program.lookahead?.closed) throw new Unsupported(`${at}: runs after a lookahead`);
  if (program.lookahead !== null) program.lookahead.coreInside = true;
  if (d.kind === "trace") {
    const c: Core = { t: "trace", decay: d.decay, nesterov: d.nesterov, trace: program.roles++ };
    program.core = c;
    return {
      snapshot: () => ({ trace: snapshotTree(buffers, c.trace) }),
      restore(state) {
        const s = stateRecord<{ trace: unknown }>("trace", state, ["trace"]);
        restoreTree("trace.trace", s.trace, buffers, c.trace);
      },
    };
  }
  const count = counter(program);
  const c: Core = { t: "adam", ...d, counter: count, mu: program.roles++, nu: program.roles++, slot: program.slots };
  program.slots += 6;
  program.core = c;
  return {
    snapshot: () => ({ count: count.count, mu: snapshotTree(buffers, c.mu), nu: snapshotTree(buffers, c.nu) }),
    restore(state) {
      const s = stateRecord<{ count: unknown; mu: unknown; nu: unknown }>("scaleByAdam", state, ["count", "mu", "nu"]);
      count.count = stateCount("scaleByAdam", s.count);
      restoreTree("scaleByAdam.mu", s.mu, buffers, c.mu);
      restoreTree("scaleByAdam.nu", s.nu, buffers, c.nu);
    },
  };
}

const X = get("x");

/**
 * The statements of one stream operation on `x`. In float32 a division by a per-step scalar
 * becomes a product with its reciprocal (slots hold both), which keeps the loop at the speed of
 * memory; float64 keeps the pure path's exact operations.
 */
function opStatement(op: Op, fast: boolean): Stmt {
  switch (op.t) {
    case "scale":
      return set("x", mul(konst(op.step), X));
    case "schedule":
      return set("x", mul(scalar(op.slot), X));
    case "clip":
      return set("x", fast ? mul(X, scalar(op.slot + 2)) : mul(div(X, scalar(op.slot)), scalar(op.slot + 1)));
    case "decay":
      return set("x", add(X, mul(scalar(op.slot), load(PARAMS))));
  }
}

/** The core's statements: reads `x`, leaves the update in `x`; `zero` stores zeros (a reset). */
function coreStatements(c: Core, zero: boolean, fast: boolean): Stmt[] {
  if (c.t === "trace") {
    const t = get("t");
    const u = c.nesterov ? add(X, mul(konst(c.decay), t)) : t;
    return [set("t", add(X, mul(konst(c.decay), load(c.trace)))), store(c.trace, zero ? konst(0) : t), set("x", u)];
  }
  const { b1, b2, eps, epsRoot, slot } = c;
  const [m, v] = [get("m"), get("v")];
  // Slots: the corrections 1 - b1^t, 1 - b2^t, 1 - b1^(t+1), then their reciprocals.
  const over = (e: Expr, k: number) => (fast ? mul(e, scalar(slot + 3 + k)) : div(e, scalar(slot + k)));
  const mHat: Expr = c.nesterov ? add(mul(konst(b1), over(m, 2)), mul(konst(1 - b1), over(X, 0))) : over(m, 0);
  return [
    set("m", add(mul(konst(1 - b1), X), mul(konst(b1), load(c.mu)))),
    set("v", add(mul(konst(1 - b2), mul(X, X)), mul(konst(b2), load(c.nu)))),
    store(c.mu, zero ? konst(0) : m),
    store(c.nu, zero ? konst(0) : v),
    set("x", div(mHat, add(sqrt(add(over(v, 1), konst(epsRoot))), konst(eps)))),
  ];
}

/**
 * Adam in float32 with every scaling folded into its coefficients: with `s` the product of the
 * scalings before Adam (clip, scale, schedule) and `f` of those after it (the learning rate),
 *
 * ```
 * m = (a1 s) g + b1 mu;   v = (a2 s^2) g^2 + b2 nu
 * u = (f / c1) m / (sqrt(v / c2 + epsRoot) + eps)        (Nesterov: (f b1 / c1') m + (f a1 s / c1) g)
 * ```
 *
 * the pure path's formulas with the products regrouped, which saves three multiplications per
 * element: the loop is bound by arithmetic, not memory. Slots: a1 s, a2 s^2, then the two
 * coefficients of u.
 */
function foldedAdam(c: Extract<Core, { t: "adam" }>, zero: boolean, slot: number): Stmt[] {
  const [m, v] = [get("m"), get("v")];
  const mHat = c.nesterov ? add(mul(scalar(slot + 2), m), mul(scalar(slot + 3), X)) : mul(scalar(slot + 2), m);
  const scaled = mul(v, scalar(c.slot + 4));
  const root = sqrt(c.epsRoot === 0 ? scaled : add(scaled, konst(c.epsRoot)));
  return [
    set("m", add(mul(scalar(slot), X), mul(konst(c.b1), load(c.mu)))),
    set("v", add(mul(scalar(slot + 1), mul(X, X)), mul(konst(c.b2), load(c.nu)))),
    store(c.mu, zero ? konst(0) : m),
    store(c.nu, zero ? konst(0) : v),
    set("x", div(mHat, add(root, konst(c.eps)))),
  ];
}

/** The kernels of a program for one dtype: `step`, `sync` (with a Lookahead) and one norm per clip. */
export function kernels(program: Program, dtype: "f32" | "f64"): Kernel[] {
  const base = { dtype, buffers: program.roles, scalars: program.slots };
  const first = set("x", load(GRAD));
  const fast = dtype === "f32";
  const opStatements = (ops: readonly Op[]) => ops.map((op) => opStatement(op, fast));
  const out: Kernel[] = [];
  program.pre.forEach((op, i) => {
    if (op.t === "clip")
      out.push({
        ...base,
        name: `norm${i}_${dtype}`,
        body: [first, ...opStatements(program.pre.slice(0, i))],
        reduce: X,
      });
  });
  const { core, folded } = program;
  const stream = (zero: boolean) =>
    fast && folded !== null && core?.t === "adam"
      ? [first, ...foldedAdam(core, zero, folded)]
      : [
          first,
          ...opStatements(program.pre),
          ...(core === null ? [] : coreStatements(core, zero, fast)),
          ...opStatements(program.post),
        ];
  const p = load(PARAMS);
  out.push({ ...base, name: `step_${dtype}`, body: [...stream(false), store(PARAMS, add(p, X))] });
  const la = program.lookahead;
  if (la !== null) {
    // slow' = slow + alpha ((p + u) - slow); v = slow' - p; p' = p + v; slow is stored as p'.
    const slow = load(la.slow);
    const sync: Stmt[] = [
      set("nx", add(p, X)),
      set("dv", sub(add(slow, mul(konst(la.alpha), sub(get("nx"), slow))), p)),
      set("pn", add(p, get("dv"))),
      store(PARAMS, get("pn")),
      store(la.slow, get("pn")),
    ];
    out.push({ ...base, name: `sync_${dtype}`, body: [...stream(la.reset && la.coreInside), ...sync] });
  }
  return out;
}
