/**
 * The executor: one `update` for every transformation gradtx builds. It walks the node tree
 * once per call to check the inputs and read the states, lines the work up as a list of
 * elementwise kernels and opaque barriers, fuses each run of kernels into passes (see fuse.ts)
 * and runs them leaf by leaf on the backend, then builds the next state.
 *
 * Checks live here, once for every transformation: the updates, the params and every state tree
 * must have one structure (keys, lengths, ndarray shapes), a state must be the state of this
 * transformation, and a kernel that reads the params must get them.
 *
 * @module
 */
import { EMPTY_STATE, type ExtraArgs, type GradientTransformation } from "../core/base.js";
import { freshArray } from "../core/fresh.js";
import { mapped } from "../core/lists.js";
import { GradTxError } from "../core/errors.js";
import {
  asLeafLike,
  assertSameStructure,
  ctorOf,
  dataOf,
  denseLeaves,
  isLeaf,
  MAX_DEPTH,
  flatten,
  shapesOf,
  sizeOf,
  unflatten,
  type Flat,
  type FloatArray,
  type PyTree,
} from "../core/pytree.js";
import { selectLeaves } from "../core/partition.js";
import { globalNormOf } from "../core/tree.js";
import {
  checkShapes,
  frozenTree,
  increment,
  keptShapes,
  nextStateTree,
  stateCount,
  stateLeaves,
  stateRecord,
  stateTree,
} from "../core/state.js";
import { checkNotSpent, claim, isShared, rememberUpdates, share, updatesOf } from "../core/donate.js";
import { readExtraArgs } from "../core/validate.js";
import { align16, arenaAlloc, arenaOf, flush, newArena, runnerOf, staged, type Arena } from "./backend.js";
import type { PassRunner } from "./js.js";
import { fuse, type LeafTypes } from "./fuse.js";
import { interpolateState } from "./interpolate.js";
import { buildKernel, GATE, gated, P, X, type Kernel, type KernelSpec } from "./kernel.js";
import { childrenOf, type Node } from "./node.js";
import { BLOCK, sumBlocks, type Dtype, type Pass } from "./pass.js";
import { gather, narrow, onView, overlaps, spread, wholeView, zerosOnView, type View } from "./views.js";

/** A transformation gradtx built: a node, with the executor's `init` and `update`. */
export class Transformation<S = unknown> implements GradientTransformation<S> {
  /** What the executor runs. */
  readonly node: Node;
  /** The initial state for `params`. */
  readonly init: (params: PyTree) => S;
  /** Transforms `updates` given the current state (and `params` and `extra`, where the transformation reads them). */
  readonly update: (updates: PyTree, state: S, params?: PyTree, extra?: ExtraArgs) => readonly [PyTree, S];

  constructor(node: Node) {
    this.node = node;
    this.init = (params) => initNode(node, params) as S;
    this.update = (updates, state, params, extra) =>
      updateNode(node, updates, state, params, extra === undefined ? {} : { extra }) as readonly [PyTree, S];
  }
}

/**
 * A plain `init` and `update` as one of gradtx's own transformations: the executor checks its
 * inputs (structures, `extra`) and runs it as a barrier, with the kernels around it fused;
 * `compile` reports it by `name`.
 */
export function barrier<S>(
  name: string,
  init: (params: PyTree) => S,
  update: (updates: PyTree, state: S, params?: PyTree, extra?: ExtraArgs) => readonly [PyTree, S],
): Transformation<S> {
  return new Transformation<S>({ kind: "opaque", name, tx: { init, update } as GradientTransformation<unknown> });
}

/** The node of any transformation: its own for gradtx's, an opaque barrier for a user's. */
export function nodeOf(tx: GradientTransformation<unknown>): Node {
  return tx instanceof Transformation ? tx.node : { kind: "opaque", tx };
}

/** A tree like `params` (their structure, dtypes and shapes) filled with `value`, or a copy of them. */
function filled(params: Flat, value: number | "params"): PyTree {
  return nextStateTree(
    params,
    params.leaves.map((leaf) =>
      value === "params" ? new (ctorOf(leaf))(dataOf(leaf)) : new (ctorOf(leaf))(sizeOf(leaf)).fill(value),
    ),
    undefined,
  );
}

/** The params' shapes (see `shapesOf`), as a frozen state tree. */
function shapesRecord(params: Flat): PyTree {
  return frozenTree(params.def, flatten(shapesOf(params)).leaves);
}

const leavesOf = (flat: Flat): readonly FloatArray[] => denseLeaves(flat);

/** The initial state of a node. */
export function initNode(node: Node, params: PyTree): unknown {
  switch (node.kind) {
    case "kernel": {
      const flat = flatten(params);
      const { kernel } = node;
      const state: Record<string, unknown> = kernel.spec.counted ? { count: 0 } : {};
      for (const slot of kernel.slotNames) state[slot] = filled(flat, kernel.spec.slots[slot]!);
      // A kernel with no slots remembers the params' shapes, to check the updates with (or its record).
      const { record } = kernel.spec;
      if (record !== undefined) state[record.name] = flat.leaves.map(() => record.initial);
      else if (kernel.slotNames.length === 0) state.shapes = shapesRecord(flat);
      for (const [name, value] of Object.entries(kernel.spec.carry ?? {}))
        state[name] = typeof value === "number" ? value : value(flat);
      return state;
    }
    case "chain": {
      const states = node.parts.map((part) => initNode(part, params));
      const { names } = node;
      return names === undefined ? states : Object.fromEntries(names.map((name, i) => [name, states[i]]));
    }
    case "lookahead": {
      const flat = flatten(params);
      const slow = filled(flat, "params");
      const inner = initNode(node.inner, params);
      // States are not mutated (the inner ops of "interpolate" never write in place), so the
      // state after the last sync may be the inner state itself.
      return {
        count: 0,
        slow,
        inner,
        ...(node.policy === "interpolate" ? { innerAtSync: inner } : {}),
        ...(node.alpha === "adaptive"
          ? {
              adaptive: {
                count: 0,
                nu: node.curvature === undefined ? filled(flat, 0) : null,
                alpha: NaN,
                estimate: NaN,
              },
            }
          : {}),
      };
    }
    case "masked": {
      const flat = flatten(params);
      return { inner: initNode(node.inner, selectLeaves(flat, node.select(flat))) };
    }
    case "multiTransform": {
      const flat = flatten(params);
      const labels = node.labels(flat);
      const inner: Record<string, unknown> = {};
      for (const [name, part] of node.parts)
        inner[name] = initNode(
          part,
          selectLeaves(
            flat,
            labels.map((label) => label === name),
          ),
        );
      return { inner };
    }
    case "inject":
      // A fresh record per state: a caller who edits one in place changes only that state.
      return { count: 0, hyperparams: { ...node.initial }, inner: initNode(node.inner(node.initial), params) };
    case "applyIfFinite":
      return { notFiniteCount: 0, lastFinite: true, totalNotFinite: 0, inner: initNode(node.inner, params) };
    case "multiSteps":
      return {
        miniStep: 0,
        gradientStep: 0,
        accGrads: filled(flatten(params), 0),
        inner: initNode(node.inner, params),
      };
    case "stateScalars":
      return { ...node.initial, shapes: shapesRecord(flatten(params)) };
    case "conditional":
      return { step: 0, innerState: initNode(node.inner, params) };
    case "opaque":
      return node.tx.init(params);
  }
}

/** An elementwise kernel to run this step, with its state read. */
interface ElementOp {
  readonly kind: "element";
  /** What runs (a node may gate it after planning: applyIfFinite, to keep its slots on a skipped step). */
  kernel: Kernel;
  readonly count: number;
  /** Whether the slots may be written in place (the state was donated and shares them with no other). */
  readonly inPlace: boolean;
  /** The current slot arrays, `[slot][leaf]`, in the slot order of the kernel. */
  readonly slots: readonly (readonly FloatArray[])[];
  /**
   * The arrays of the kernel's reads, `[read][leaf]`, in its `readNames` order. A node may fill
   * them in after planning (from a barrier it placed before the kernel), before the run starts.
   */
  readonly reads: readonly (readonly FloatArray[])[];
  /** The next slot arrays, filled in by the run. */
  next: FloatArray[][];
  /** The leaves the kernel runs on (undefined: all); it keeps no slots for the others. */
  readonly active?: readonly boolean[] | undefined;
  /**
   * Called with the kernel's scalars once they are known (a node reads a reduction's outcome this
   * way): once for all leaves, or per leaf (its index in the step) when a sum is per leaf.
   */
  readonly onScalars?: ((values: Readonly<Record<string, number>>, leaf: number | undefined) => void) | undefined;
  /** The kernel's `perLeaf` scalars, when a view computed them over its own leaves. */
  readonly perLeaf?: readonly ({ readonly [name: string]: number | undefined } | undefined)[] | undefined;
  /** The numbers the kernel's state carries (see `KernelSpec.carry`), as this step read them. */
  readonly carried: Readonly<Record<string, number>>;
  /** For a gated kernel: its {@link GATE}, read when its stage starts (after the passes before it). */
  gate: (() => boolean) | undefined;
}

/** An opaque transformation to run this step. */
interface BarrierOp {
  readonly kind: "barrier";
  /** What runs (a node may wrap it after planning: applyIfFinite, to skip it on a skipped step). */
  tx: GradientTransformation<unknown>;
  readonly state: unknown;
  next: unknown;
  /** The leaves it may change (undefined: all). */
  readonly active?: readonly boolean[] | undefined;
  /** Whether it belongs to the node that placed it, which needs it to run (a capture of the updates). */
  readonly own?: boolean | undefined;
}

type Op = ElementOp | BarrierOp;

/** What one `update` call works on. */
interface Step {
  readonly updates: Flat;
  readonly params: PyTree | undefined;
  readonly paramsFlat: Flat | undefined;
  /** The extra arguments of the call, checked (`undefined`: none given). */
  readonly extra: ExtraArgs | undefined;
  /** Whether the state was donated: its arrays (and the last updates') may take the results. */
  inPlace: boolean;
  /** With a donated state: the arrays of the updates the call that made it returned. */
  spare: readonly FloatArray[] | undefined;
  /** Where new arrays come from: kept ones outlive the call (states, updates), others do not. */
  alloc: Allocator;
  /**
   * The array a donated call writes in place of `current` (a slot, or the spare updates): itself,
   * or one of its dtype and length in the call's arena, where the state's arrays are moving to.
   */
  keep: (current: FloatArray) => FloatArray;
  /** Whether to add the updates to the params in place, in the last pass (a compiled step). */
  readonly apply: boolean;
  /** A donated call's arena: its runs read their input from it (see `staged`). */
  arena: Arena | undefined;
  readonly ops: Op[];
}

/** The op of `kernel` on `view`'s leaves; `slots` has one array per leaf of the view. */
function elementOp(
  kernel: Kernel,
  count: number,
  slots: readonly (readonly FloatArray[])[],
  view: View,
  owned: boolean,
  onScalars?: ElementOp["onScalars"],
  reads: readonly FloatArray[][] = [],
  carried: Readonly<Record<string, number>> = {},
): ElementOp {
  const perLeaf = view.active === undefined ? undefined : kernel.spec.perLeaf;
  // Every op has every field, so that the loops over them see one shape of object.
  return {
    kind: "element",
    kernel,
    count,
    inPlace: owned,
    slots: slots.map((leaves) => spread(view, leaves)),
    reads,
    next: [],
    active: view.active,
    onScalars,
    perLeaf: perLeaf === undefined ? undefined : spread(view, perLeaf(view.params ?? view.tree)),
    carried,
    gate: undefined,
  };
}

/** Whether an op may change the updates on its leaves (a kernel whose update is its input does not). */
const changes = (op: Op): boolean =>
  op.kind === "barrier" || !(op.kernel.update.op === "input" && op.kernel.update.name === X);

/**
 * The updates as they enter a node on `view`'s leaves, one array per leaf of the step (the
 * others empty): the step's own where no op planned so far changes them, else filled in when
 * the run gets here, by a barrier that passes the updates through.
 */
function entering(step: Step, view: View): FloatArray[] {
  const out = new Array<FloatArray>(step.updates.leaves.length);
  if (!step.ops.some((op) => changes(op) && overlaps(view, op.active))) {
    for (const i of view.index) out[i] = dataOf(step.updates.leaves[i]!);
    return out;
  }
  const capture: GradientTransformation<unknown> = {
    init: () => EMPTY_STATE,
    update(updates, state) {
      const leaves = flatten(updates).leaves;
      for (const i of view.index) out[i] = dataOf(leaves[i]!);
      return [updates, state];
    },
  };
  const none = new Array<boolean>(out.length).fill(false);
  step.ops.push({ kind: "barrier", tx: capture, state: EMPTY_STATE, next: undefined, active: none, own: true });
  return out;
}

function missingParams(where: string): GradTxError {
  return new GradTxError("MISSING_PARAMS", `${where} reads the params: pass them as the third argument of update`);
}

/**
 * Reads `state` for `node`, appends the node's work for this step on `view`'s leaves to
 * `step.ops`, and returns what builds its next state once the ops have run.
 *
 * `owned`: whether the node's state belongs to the state given alone. It does not where a node
 * may keep its old state (a step applyIfFinite may skip) or where an older live state holds the
 * same trees (an inner state a skipped step or a mini-step carried over): then its kernels write
 * into fresh arrays even when the state was donated, and what it carries over is marked shared
 * as after a call that was not donated.
 */
function plan(
  node: Node,
  state: unknown,
  step: Step,
  view: View = wholeView(step.updates, step.paramsFlat, step.params),
  owned = true,
  at = "",
): () => unknown {
  /** Whether this node's arrays are the call's to write into (known once the plan has run). */
  const donated = () => step.inPlace && owned;
  switch (node.kind) {
    case "kernel": {
      const { kernel } = node;
      const where = kernel.spec.name;
      const { record } = kernel.spec;
      const shapes = kernel.slotNames.length === 0 && record === undefined;
      const carry = Object.keys(kernel.spec.carry ?? {});
      const keys = [
        ...(kernel.spec.counted ? ["count"] : []),
        ...(shapes ? ["shapes"] : kernel.slotNames),
        ...(record === undefined ? [] : [record.name]),
        ...carry,
      ];
      const s = stateRecord<Record<string, unknown>>(where, state, keys, at);
      if (kernel.spec.readsParams && step.params === undefined) throw missingParams(where);
      const count = kernel.spec.counted ? stateCount(where, s.count) : 0;
      if (shapes) checkShapes(`${where}.shapes`, s.shapes, view.tree);
      if (record !== undefined) checkRecord(`${where}.${record.name}`, s[record.name], view.tree.leaves.length, at);
      const slots = kernel.slotNames.map((slot) => stateTree(`${where}.${slot}`, s[slot], view.tree));
      const carried = stateNumbers(where, s, carry, at);
      // The next carried numbers are among the step's scalars (unchanged if they never run: no leaves).
      const carriedNext: Record<string, number> = { ...carried };
      // The record's next values, per leaf of the step.
      const recorded = new Array<unknown>(record === undefined ? 0 : step.updates.leaves.length);
      const onScalars =
        carry.length === 0 && record === undefined
          ? undefined
          : (values: Readonly<Record<string, number>>, leaf: number | undefined) => {
              carry.forEach((name) => (carriedNext[name] = values[name]!));
              if (record === undefined) return;
              const value = record.of(values);
              if (leaf === undefined) recorded.fill(value);
              else recorded[leaf] = value;
            };
      const op = elementOp(kernel, count, slots.map(leavesOf), view, owned, onScalars, [], carried);
      step.ops.push(op);
      return () => {
        // A fresh record even when nothing changed: a donated state is spent.
        const next: Record<string, unknown> = kernel.spec.counted ? { count: increment(count) } : {};
        if (shapes) next.shapes = keptShapes(s.shapes);
        if (record !== undefined) next[record.name] = gather(view, recorded);
        Object.assign(next, carriedNext);
        kernel.slotNames.forEach(
          (slot, k) => (next[slot] = nextStateTree(slots[k]!, gather(view, op.next[k]!), s[slot])),
        );
        return next;
      };
    }
    case "chain": {
      const n = node.parts.length;
      const { names } = node;
      let states: readonly unknown[];
      if (names === undefined) {
        if (!Array.isArray(state) || state.length !== n)
          throw new GradTxError(
            "BAD_STATE",
            `chain: expected an array of ${n} states, got ${Array.isArray(state) ? `an array of ${state.length}` : typeof state}`,
            at === "" ? undefined : at,
          );
        states = state;
      } else {
        const s = stateRecord<Record<string, unknown>>("namedChain", state, names, at);
        states = names.map((name) => s[name]);
      }
      const parts = node.parts.map((part, i) =>
        plan(part, states[i], step, view, owned, names === undefined ? `${at}[${i}]` : `${at}.${names[i]!}`),
      );
      return () => {
        const next = parts.map((finish) => finish());
        return names === undefined ? next : Object.fromEntries(names.map((name, i) => [name, next[i]]));
      };
    }
    case "lookahead": {
      const s = stateRecord<{
        count: unknown;
        slow: unknown;
        inner: unknown;
        innerAtSync?: unknown;
        adaptive?: unknown;
      }>("lookahead", state, ["count", "slow", "inner"], at);
      if (step.params === undefined)
        throw new GradTxError(
          "MISSING_PARAMS",
          "lookahead reads the fast weights: pass the params as the third argument of update",
        );
      const interpolate = node.policy === "interpolate";
      if (interpolate && !("innerAtSync" in s))
        throw new GradTxError(
          "BAD_STATE",
          'lookahead: innerState "interpolate" needs innerAtSync in the state (was it built with another policy?)',
        );
      const count = increment(stateCount("lookahead", s.count));
      const slowTree = stateTree("lookahead.slow", s.slow, view.tree);
      const slow = leavesOf(slowTree);
      const syncs = count % node.syncPeriod === 0;
      // Adaptive alpha: the squared-gradient average (or a given curvature) and its count.
      let adaptive: { count: unknown; nu: unknown; alpha: unknown; estimate: unknown } | undefined;
      let adaptiveCount = 0;
      let nuTree: Flat | undefined;
      let nu: readonly FloatArray[] | undefined;
      let gradient: FloatArray[] | undefined;
      let track: ElementOp | undefined;
      if (node.alpha === "adaptive") {
        adaptive = stateRecord(
          "lookahead.adaptive",
          s.adaptive,
          ["count", "nu", "alpha", "estimate"],
          `${at}.adaptive`,
        );
        adaptiveCount = increment(stateCount("lookahead.adaptive", adaptive.count));
        if (node.curvature === undefined) {
          nuTree = stateTree("lookahead.adaptive.nu", adaptive.nu, view.tree);
          nu = leavesOf(nuTree);
        }
        // The sync reads the gradient Lookahead is given; on other steps a kernel moves the average.
        if (syncs) gradient = entering(step, view);
        else if (nu !== undefined) step.ops.push((track = elementOp(node.track!, 0, [nu], view, owned)));
      }
      // Under "interpolate" the inner state after a sync is also the one interpolation starts
      // from next time, so the inner kernels never write in place (as before).
      const inner = plan(node.inner, s.inner, step, view, owned && !interpolate, `${at}.inner`);
      const nuOf = (op: ElementOp) =>
        nextStateTree(nuTree!, gather(view, op.next[op.kernel.slotNames.indexOf("nu")]!), adaptive?.nu);
      const rest = (inner: unknown, alpha: number, estimate: number, nuNext: unknown) => ({
        inner,
        ...(interpolate ? { innerAtSync: syncs ? inner : s.innerAtSync } : {}),
        ...(adaptive === undefined
          ? {}
          : { adaptive: { ...adaptive, count: adaptiveCount, nu: nuNext, ...(syncs ? { alpha, estimate } : {}) } }),
      });
      // A real branch: on other steps the slow weights are not read, so a non-finite fast
      // weight cannot reach them.
      if (!syncs)
        return () => {
          // The next state shares the slow weights with this one; a donated call keeps its own.
          if (!donated()) share(s.slow);
          return {
            count,
            slow: s.slow,
            ...rest(inner(), NaN, NaN, track === undefined ? adaptive?.nu : nuOf(track)),
          };
        };
      const chosen = { alpha: node.alpha === "adaptive" ? NaN : node.alpha, estimate: NaN };
      const slots: Record<string, readonly FloatArray[]> = { slow, ...(nu === undefined ? {} : { nu }) };
      const reads: Record<string, FloatArray[]> = {
        ...(gradient === undefined ? {} : { g: gradient }),
        ...(node.curvature === undefined
          ? {}
          : { curvature: spread(view, stateLeaves("lookahead curvature", node.curvature, view.tree)) }),
      };
      const sync = elementOp(
        node.sync,
        adaptiveCount,
        node.sync.slotNames.map((name) => slots[name]!),
        view,
        owned && !isShared(s.slow),
        adaptive === undefined
          ? undefined
          : (values) => ((chosen.alpha = values.alpha!), (chosen.estimate = values.estimate!)),
        node.sync.readNames.map((name) => reads[name]!),
      );
      step.ops.push(sync);
      return () => {
        const slows = gather(view, sync.next[node.sync.slotNames.indexOf("slow")]!);
        const slowNext = nextStateTree(slowTree, slows, s.slow);
        const nuNext = nu === undefined ? adaptive?.nu : nuOf(sync);
        if (node.policy === "keep")
          return { count, slow: slowNext, ...rest(inner(), chosen.alpha, chosen.estimate, nuNext) };
        if (node.policy === "reset") {
          const asParams = unflatten(
            view.params!.def,
            view.params!.leaves.map((leaf, j) => asLeafLike(leaf, slows[j]!)),
          );
          inner(); // the inner state of this step is replaced, but its ops ran and are spent
          return {
            count,
            slow: slowNext,
            ...rest(initNode(node.inner, asParams), chosen.alpha, chosen.estimate, nuNext),
          };
        }
        const moved = interpolateState(s.innerAtSync, inner(), chosen.alpha, "inner");
        return { count, slow: slowNext, ...rest(moved, chosen.alpha, chosen.estimate, nuNext) };
      };
    }
    case "masked": {
      const s = stateRecord<{ inner: unknown }>("masked", state, ["inner"], at);
      const inner = plan(
        node.inner,
        s.inner,
        step,
        narrow(view, node.select(view.tree), "masked"),
        owned,
        `${at}.inner`,
      );
      return () => ({ inner: inner() });
    }
    case "multiTransform": {
      const s = stateRecord<{ inner: unknown }>("multiTransform", state, ["inner"], at);
      const labels = node.labels(view.tree);
      const parts = node.parts.map(([name, part]) => {
        if (typeof s.inner !== "object" || s.inner === null || !Object.hasOwn(s.inner, name))
          throw new GradTxError("BAD_STATE", `multiTransform: the state has no part for label "${name}"`);
        const selected = labels.map((label) => label === name);
        const where = `multiTransform (label "${name}")`;
        return [
          name,
          plan(
            part,
            (s.inner as Record<string, unknown>)[name],
            step,
            narrow(view, selected, where),
            owned,
            `${at}.inner.${name}`,
          ),
        ] as const;
      });
      return () => ({ inner: Object.fromEntries(parts.map(([name, finish]) => [name, finish()])) });
    }
    case "inject": {
      const where = "injectHyperparams";
      const s = stateRecord<{ count: unknown; hyperparams: unknown; inner: unknown }>(
        where,
        state,
        ["count", "hyperparams", "inner"],
        at,
      );
      const count = stateCount(where, s.count);
      if (typeof s.hyperparams !== "object" || s.hyperparams === null)
        throw new GradTxError("BAD_STATE", `${where}: hyperparams must be an object of numbers`);
      const hyperparams = node.hyperparams(count, s.hyperparams as Record<string, unknown>);
      const inner = plan(node.inner(hyperparams), s.inner, step, view, owned, `${at}.inner`);
      return () => ({ count: increment(count), hyperparams, inner: inner() });
    }
    case "applyIfFinite": {
      const where = "applyIfFinite";
      const s = stateRecord<{ notFiniteCount: unknown; lastFinite: unknown; totalNotFinite: unknown; inner: unknown }>(
        where,
        state,
        ["notFiniteCount", "lastFinite", "totalNotFinite", "inner"],
        at,
      );
      const notFinite = stateCount(where, s.notFiniteCount);
      const total = stateCount(where, s.totalNotFinite);
      const seen = { finite: true };
      step.ops.push(elementOp(node.check, 0, [], view, owned, (values) => (seen.finite = values.finite === 1)));
      // After more than maxConsecutiveErrors bad steps in a row the step is applied whatever the
      // updates hold. Otherwise, where the inner node is all kernels, they run gated by the check
      // (in place when donated: a skipped step writes each slot's old value back) and a last kernel
      // gives zeros for the updates of a skipped step. An inner node with a barrier runs into fresh
      // arrays instead, and its results are taken or not once the check has run.
      const applied = increment(notFinite) > node.maxConsecutiveErrors;
      const gates = !applied && kernelsOnly(node.inner);
      const from = step.ops.length;
      const inner = plan(
        node.inner,
        s.inner,
        step,
        view,
        owned && (applied || gates) && !isShared(s.inner),
        `${at}.inner`,
      );
      if (gates) {
        const gate = () => seen.finite;
        for (const op of step.ops.slice(from))
          if (op.kind === "element") {
            op.kernel = gated(op.kernel);
            op.gate = gate;
          }
        const skip = elementOp(node.skip, 0, [], view, owned);
        skip.gate = gate;
        step.ops.push(skip);
      } else if (!applied) {
        // An opaque transformation inside is not called on a step the check skips (it could
        // throw on the values that made the check fail); what it would return is not used.
        for (const op of step.ops.slice(from))
          if (op.kind === "barrier" && op.own !== true) {
            const tx = op.tx;
            op.tx = {
              init: (p) => tx.init(p),
              update: (u, st, p, extra) => (seen.finite ? tx.update(u, st, p, extra) : [u, st]),
            };
          }
        const zeros: GradientTransformation<unknown> = {
          init: () => EMPTY_STATE,
          update: (updates, st) => [seen.finite ? updates : zerosOnView(view, updates), st],
        };
        step.ops.push({ kind: "barrier", tx: zeros, state: EMPTY_STATE, next: undefined, active: view.active });
      }
      return () => {
        const finite = seen.finite;
        const notFiniteCount = finite ? 0 : increment(notFinite);
        const meta = { notFiniteCount, lastFinite: finite, totalNotFinite: finite ? total : increment(total) };
        if (finite || notFiniteCount > node.maxConsecutiveErrors) return { ...meta, inner: inner() };
        // The step is skipped: the inner state is kept, shared with the state given unless that was donated.
        if (!donated()) share(s.inner);
        return { ...meta, inner: s.inner };
      };
    }
    case "multiSteps": {
      const where = "multiSteps";
      const s = stateRecord<{ miniStep: unknown; gradientStep: unknown; accGrads: unknown; inner: unknown }>(
        where,
        state,
        ["miniStep", "gradientStep", "accGrads", "inner"],
        at,
      );
      const miniStep = stateCount(where, s.miniStep);
      const gradientStep = stateCount(where, s.gradientStep);
      const k = node.everyKSteps(gradientStep);
      const accTree = stateTree(`${where}.accGrads`, s.accGrads, view.tree);
      const acc = [leavesOf(accTree)];
      const accGrads = (op: ElementOp) => nextStateTree(accTree, gather(view, op.next[0]!), s.accGrads);
      if (miniStep + 1 < k) {
        const op = elementOp(node.accumulate, miniStep, acc, view, owned);
        step.ops.push(op);
        return () => {
          // The inner state stands still, shared with the state given unless that was donated.
          if (!donated()) share(s.inner);
          return { miniStep: miniStep + 1, gradientStep, accGrads: accGrads(op), inner: s.inner };
        };
      }
      const op = elementOp(node.flush, miniStep, acc, view, owned);
      step.ops.push(op);
      const inner = plan(node.inner, s.inner, step, view, owned && !isShared(s.inner), `${at}.inner`);
      return () => ({ miniStep: 0, gradientStep: increment(gradientStep), accGrads: accGrads(op), inner: inner() });
    }
    case "stateScalars": {
      const { kernel } = node;
      const where = kernel.spec.name;
      const names = Object.keys(node.initial).sort();
      const s = stateRecord<Record<string, unknown>>(where, state, [...names, "shapes"], at);
      const current = stateNumbers(where, s, names, at);
      checkShapes(`${where}.shapes`, s.shapes, view.tree);
      const next = node.advance(current, step.extra);
      // The kernel of the declaration, with this step's numbers as its hyperparameters: the same
      // code, so the same passes, fused with its neighbours.
      const given = node.hyper?.(next, step.extra) ?? next;
      const hyper = Object.fromEntries(Object.keys(kernel.spec.hyper).map((name) => [name, given[name]!]));
      step.ops.push(elementOp({ ...kernel, spec: { ...kernel.spec, hyper } }, 0, [], view, owned));
      return () => ({ ...next, shapes: keptShapes(s.shapes) });
    }
    case "conditional": {
      const s = stateRecord<{ step: unknown; innerState: unknown }>(node.name, state, ["step", "innerState"], at);
      const count = stateCount(node.name, s.step);
      if (node.when(count, step.extra)) {
        const inner = plan(node.inner, s.innerState, step, view, owned && !isShared(s.innerState), `${at}.innerState`);
        return () => ({ step: increment(count), innerState: inner() });
      }
      if (node.otherwise !== undefined) step.ops.push(elementOp(node.otherwise, 0, [], view, owned));
      return () => {
        // The inner state stands still, shared with the state given unless that was donated.
        if (!donated()) share(s.innerState);
        return { step: increment(count), innerState: s.innerState };
      };
    }
    case "opaque": {
      // Inside a view, the barrier sees the view's leaves only (the others are null).
      const tx = view.active === undefined ? node.tx : onView(view, node.tx);
      const op: BarrierOp = { kind: "barrier", tx, state, next: undefined, active: view.active };
      step.ops.push(op);
      return () => op.next;
    }
  }
}

/** A kernel's record (see `KernelSpec.record`): an array of one value per leaf, or `BAD_STATE`. */
function checkRecord(where: string, record: unknown, leaves: number, at: string): void {
  if (!Array.isArray(record) || record.length !== leaves)
    throw new GradTxError(
      "BAD_STATE",
      `${where}: expected an array of one value per leaf (${leaves}), got ${Array.isArray(record) ? `an array of ${record.length}` : typeof record}`,
      at === "" ? undefined : at,
    );
}

/** Whether a node is kernels all through: no opaque transformation anywhere inside it. */
function kernelsOnly(node: Node): boolean {
  return node.kind !== "opaque" && childrenOf(node).every(kernelsOnly);
}

/** The numbers `names` of a state record, or `BAD_STATE` naming the first that is not a number. */
function stateNumbers(
  where: string,
  s: Readonly<Record<string, unknown>>,
  names: readonly string[],
  at: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const value = s[name];
    if (typeof value !== "number")
      throw new GradTxError(
        "BAD_STATE",
        `${where}: ${name} must be a number, got ${value === null ? "null" : typeof value}`,
        at === "" ? undefined : at,
      );
    out[name] = value;
  }
  return out;
}

/** Makes the arrays a call needs: `keep` for those that outlive it (states, updates). */
export type Allocator = (dtype: Dtype, n: number, keep: boolean) => FloatArray;

const fresh: Allocator = (dtype, n) => arrayOf(dtype, n);

/** How a call runs, beyond the public `update`: where arrays live, and whether it applies. */
export interface RunOptions {
  readonly alloc?: Allocator;
  /**
   * Add the updates to the params in place (the params must be the caller's own buffers); the
   * updates returned are then not computed (`null`).
   */
  readonly apply?: boolean;
  /** The updates and params flattened, when the caller holds them so (they are not checked again). */
  readonly flat?: { readonly updates: Flat; readonly params: Flat };
  /** The extra arguments the caller gave, unchecked (see {@link ExtraArgs}). */
  readonly extra?: unknown;
}

/** A call's `keep` where the arrays stay where they are. */
const sameArray = (current: FloatArray): FloatArray => current;

/** One `update` of a node: check, plan, run, and build the next state. */
export function updateNode(
  node: Node,
  updates: PyTree,
  state: unknown,
  params: PyTree | undefined,
  options: RunOptions = {},
): readonly [PyTree, unknown] {
  const flat = options.flat?.updates ?? flatten(updates);
  let paramsFlat: Flat | undefined = options.flat?.params;
  if (params !== undefined && paramsFlat === undefined) {
    checkNotSpent("update", params);
    paramsFlat = flatten(params);
    assertSameStructure(paramsFlat, flat);
  }
  const apply = options.apply === true && paramsFlat !== undefined;
  const extra = readExtraArgs("update", options.extra);
  if (extra?.grad !== undefined) assertSameStructure(flat, flatten(extra.grad));
  const step: Step = {
    updates: flat,
    params,
    paramsFlat,
    extra,
    inPlace: false,
    spare: undefined,
    alloc: options.alloc ?? fresh,
    keep: sameArray,
    apply,
    arena: undefined,
    ops: [],
  };
  const finish = plan(node, state, step);
  // Taken once the state has been read and checked: a donated state is spent from here on (an
  // opaque transformation's own state is its own business).
  if (node.kind !== "opaque" && claim("update", state)) {
    step.inPlace = true;
    step.spare = updatesOf(state);
    if (options.alloc === undefined) useArena(step, state);
  }
  const input = denseLeaves(flat);
  let x: readonly FloatArray[] = input;
  for (let i = 0; i < step.ops.length;) {
    const op = step.ops[i]!;
    if (op.kind === "barrier") {
      const current = unflatten(
        flat.def,
        x.map((data, leaf) => (data === input[leaf] ? flat.leaves[leaf]! : asLeafLike(flat.leaves[leaf]!, data))),
      );
      const [u, next] = op.tx.update(current, op.state, params, extra);
      const out = flatten(u);
      assertSameStructure(flat, out);
      x = out.leaves.map(dataOf);
      op.next = next;
      i++;
      continue;
    }
    let end = i;
    while (end < step.ops.length && step.ops[end]!.kind === "element") end++;
    // Only the last run may write into the spare arrays: a barrier may keep what it was given.
    x = runElements(step.ops.slice(i, end) as ElementOp[], x, step, end === step.ops.length);
    i = end;
  }
  // Applying after a barrier (or with no kernels at all) is a run of no kernels.
  if (apply && (step.ops.length === 0 || step.ops[step.ops.length - 1]!.kind === "barrier"))
    x = runElements([], x, step, true);
  const next = finish();
  if (apply) return [null, next];
  // Updates nothing changed come back as the very same tree.
  const out = x.every((data, leaf) => data === input[leaf])
    ? updates
    : unflatten(
        flat.def,
        x.map((data, leaf) => (data === input[leaf] ? flat.leaves[leaf]! : asLeafLike(flat.leaves[leaf]!, data))),
      );
  // The updates a donated successor of this state may write into (the caller gave them up with it).
  rememberUpdates(next, x);
  return [out, next];
}

const dtypeOf = (a: FloatArray): Dtype => (a instanceof Float32Array ? "f32" : "f64");

/**
 * Gives a donated call an arena (see backend.ts): the one its state's arrays live in, or, on the
 * first donated call, a new one with room for the state's slots, the updates, the params (which
 * `applyUpdates(donate(params), updates)` moves there) and a copy of the gradient. Kept arrays
 * come from it while it has room, and the slots and spare updates move into it; from the next
 * donated call on, the passes read and write them where they are, and each call copies its
 * gradient in once.
 */
function useArena(step: Step, state: unknown): void {
  // The arena of the first slot that has one (a donated state's arrays all moved to one). A
  // kernel on a view has no slot at the leaves outside it (holes).
  let arena: Arena | undefined;
  let slots = false;
  for (let k = 0; arena === undefined && k < step.ops.length; k++) {
    const op = step.ops[k]!;
    if (op.kind !== "element") continue;
    for (let s = 0; arena === undefined && s < op.slots.length; s++)
      for (let i = 0; arena === undefined && i < op.slots[s]!.length; i++) {
        const a = op.slots[s]![i] as FloatArray | undefined;
        if (a === undefined) continue;
        slots = true;
        arena = arenaOf(a);
      }
  }
  // Kernels without slots (a stateless chain: sgd is a scale) keep nothing an arena could hold:
  // their updates go into the spare arrays of the last step, where they are. A new arena each
  // step would only copy the gradient through its scratch area.
  if (!slots) return;
  const created = arena === undefined;
  if (arena === undefined) {
    // Room for the state, the updates, the params and the gradient (see `staged`).
    arena = newArena(bytesOf(arraysIn(state)) + 3 * bytesOf(step.updates.leaves.map(dataOf)));
  }
  if (arena === undefined) return;
  const home = arena;
  step.arena = home;
  const moved = new Map<FloatArray, FloatArray>();
  step.alloc = (dtype, n, kept) =>
    kept ? (arenaAlloc(home, dtype, n) ?? fresh(dtype, n, kept)) : fresh(dtype, n, kept);
  // A step whose slots and spare updates all live in the arena (every donated step after the
  // first) moves nothing: its arrays stay as they are, and its kernels take their columns whole,
  // as a compiled step's do.
  if (!created && livesIn(step, home.buffer)) return;
  // An array moves with its values, once: a slot the body leaves as it is is never written.
  step.keep = (current) => {
    if (current.buffer === home.buffer) return current;
    let to = moved.get(current);
    if (to === undefined) {
      moved.set(current, (to = arenaAlloc(home, dtypeOf(current), current.length) ?? current));
      if (to !== current) to.set(current);
    }
    return to;
  };
  if (!created) return;
  // A new arena places each slot's leaves side by side, slot after slot, as a compiled memory
  // does, so that a pass's streams run on from one leaf into the next (the run would otherwise
  // move them leaf by leaf, each leaf's slots together).
  for (const op of step.ops)
    if (op.kind === "element" && op.inPlace)
      for (const leaves of op.slots)
        for (let i = 0; i < leaves.length; i++) {
          const a = leaves[i] as FloatArray | undefined;
          if (a !== undefined) step.keep(a);
        }
}

/** Whether every slot array of the step's kernels and every spare update lives in `buffer`. */
function livesIn(step: Step, buffer: ArrayBufferLike): boolean {
  const inside = (a: FloatArray) => a.buffer === buffer;
  for (const op of step.ops)
    if (op.kind === "element") for (const column of op.slots) if (!everyArray(column, inside)) return false;
  return everyArray(step.spare ?? [], inside);
}

/**
 * Whether every array of a column passes `test`. A kernel on a view has no arrays at the leaves
 * outside it (holes): those are skipped.
 */
function everyArray(column: readonly FloatArray[], test: (a: FloatArray) => boolean): boolean {
  for (let i = 0; i < column.length; i++) {
    const a = column[i] as FloatArray | undefined;
    if (a !== undefined && !test(a)) return false;
  }
  return true;
}

/** The typed arrays a state holds (an ndarray leaf's data), each once (a state may share one). */
export function arraysIn(state: unknown, out = new Set<FloatArray>(), depth = 0): Set<FloatArray> {
  if (depth > MAX_DEPTH) return out;
  if (state instanceof Float32Array || state instanceof Float64Array) out.add(state);
  else if (isLeaf(state)) out.add(dataOf(state));
  else if (Array.isArray(state)) for (const x of state) arraysIn(x, out, depth + 1);
  else if (typeof state === "object" && state !== null && !ArrayBuffer.isView(state))
    for (const x of Object.values(state)) arraysIn(x, out, depth + 1);
  return out;
}

/** The bytes `arrays` take in a memory, each rounded up to whole vectors. */
export const bytesOf = (arrays: Iterable<FloatArray>): number =>
  [...arrays].reduce((n, a) => n + align16(a.length * (dtypeOf(a) === "f32" ? 4 : 8)), 0);

/**
 * Where `applyUpdates(donate(params), updates)` writes a leaf: into the params' own array, or,
 * where the updates live in an arena the params do not, into a new array there (so that the
 * next steps read and write the params where they are too).
 */
export function applyTarget(params: FloatArray, updates: FloatArray): FloatArray {
  const arena = arenaOf(updates);
  if (arena === undefined || params.buffer === arena.buffer) return params;
  return arenaAlloc(arena, dtypeOf(params), params.length) ?? params;
}
const arrayOf = (dtype: Dtype, n: number): FloatArray => freshArray(dtype === "f32" ? Float32Array : Float64Array, n);
/** `a` in `dtype`: itself, or a converted copy. */
const inDtype = (a: FloatArray, dtype: Dtype, alloc: Allocator = fresh): FloatArray => {
  if (dtypeOf(a) === dtype) return a;
  const out = alloc(dtype, a.length, false);
  out.set(a);
  return out;
};

/** Whether every array a run reads is float32: its input, the params and each kernel's slots and reads. */
function allFloat32(
  x: readonly FloatArray[],
  params: readonly FloatArray[] | undefined,
  ops: readonly ElementOp[],
): boolean {
  const f32 = (column: readonly FloatArray[]): boolean => everyArray(column, (a) => a instanceof Float32Array);
  if (!f32(x) || (params !== undefined && !f32(params))) return false;
  for (const op of ops) {
    for (const column of op.slots) if (!f32(column)) return false;
    for (const column of op.reads) if (!f32(column)) return false;
  }
  return true;
}

/** The four kinds of leaf, by compute and update dtype (one object each). */
const LEAF_TYPES: Record<Dtype, Record<Dtype, LeafTypes>> = {
  f32: { f32: { compute: "f32", update: "f32" }, f64: { compute: "f32", update: "f64" } },
  f64: { f32: { compute: "f64", update: "f32" }, f64: { compute: "f64", update: "f64" } },
};

type Member = { readonly k: number; readonly kernel: Kernel };

/**
 * A fused pass, with where each of its scalars comes from (`[kernel, name]`) and each of its
 * buffers: `[0]` the stage's input, `[1]` its output, `[2]` the params, `[3]` the params written,
 * `[4, k, s]` kernel k's slot s, `[5, k, s]` that slot written.
 */
interface Planned {
  readonly pass: Pass;
  readonly refs: readonly (readonly [number, string])[];
  readonly buffers: readonly (readonly number[])[];
}

/** Where a pass's buffer comes from, as a {@link Planned} code. */
function bufferCode(name: string, kernelOf: (k: number) => Kernel): number[] {
  if (name === "in") return [0];
  if (name === "out") return [1];
  if (name === "p") return [2];
  if (name === "p'") return [3];
  const dot = name.indexOf(".");
  const k = Number(name.slice(0, dot));
  const written = name.endsWith("'");
  const slot = name.slice(dot + 1, written ? -1 : undefined);
  // A read is read like a slot, after the slots.
  const { slotNames, readNames } = kernelOf(k);
  const s = slotNames.indexOf(slot);
  return [written ? 5 : 4, k, s >= 0 ? s : slotNames.length + readNames.indexOf(slot)];
}

/** A runner that is never called (a leaf with nothing to run). */
const noRun: PassRunner = () => undefined;

/** Fused passes, by run (its kernels), then by stage, dtypes and apply, then by active kernels. */
const passCache = new Map<string, Map<number, Planned | null>[]>();

function planned(
  cache: Map<number, Planned | null>,
  key: number,
  members: () => Member[],
  reduce: Member | undefined,
  types: LeafTypes,
  apply: boolean,
  kernelOf: (k: number) => Kernel,
  store: boolean,
): Planned | null {
  let p = cache.get(key);
  if (p !== undefined) return p;
  const pass = fuse(members(), reduce, types, apply, store);
  p =
    pass === undefined
      ? null
      : {
          pass,
          refs: pass.scalars.map((name) => {
            const dot = name.indexOf(".");
            return [Number(name.slice(0, dot)), name.slice(dot + 1)] as const;
          }),
          buffers: pass.buffers.map((name) => bufferCode(name, kernelOf)),
        };
  cache.set(key, p);
  return p;
}

type ScalarValues = Record<string, number>;

/** Whether every leaf's own scalars are those of the first leaf. */
function ownAlike(own: readonly ({ readonly [name: string]: number | undefined } | undefined)[]): boolean {
  const first = own[0];
  if (first === undefined) return false;
  const names = Object.keys(first);
  for (let i = 1; i < own.length; i++) {
    const o = own[i];
    // A leaf outside a view has none: such a list stays per leaf.
    if (o === undefined) return false;
    if (o === first) continue;
    for (const name of names) if (!Object.is(o[name], first[name])) return false;
    if (Object.keys(o).length !== names.length) return false;
  }
  return true;
}

/**
 * Runs a run of elementwise kernels over every leaf; returns the updates they produce. The run
 * goes in stages, cut before each kernel that reduces (see fuse.ts); within a stage, each leaf
 * runs one pass of the kernels that change it.
 */
function runElements(ops: readonly ElementOp[], x: readonly FloatArray[], step: Step, last: boolean): FloatArray[] {
  const leaves = x.length;
  const params = step.paramsFlat === undefined ? undefined : denseLeaves(step.paramsFlat);
  const types: LeafTypes[] = [];
  // Conversions back into narrower arrays, once the passes have run (mixed-dtype leaves only).
  const after: (() => void)[] = [];
  // Per leaf: the params read and written, and per kernel and slot, the slot read and written.
  const pReads: FloatArray[] = [];
  const pWrites: FloatArray[] = [];
  let pRead: readonly FloatArray[] = pReads;
  let pWrite: readonly FloatArray[] = pWrites;
  // With every array of the run in float32 (the common case), every leaf computes in float32 and
  // the params are read and written as they are; a kernel whose slots are written in place
  // (every kernel of a compiled step) takes its slot and read columns whole, as they are, not
  // leaf by leaf. Other kernels fill theirs leaf by leaf.
  const narrow = allFloat32(x, params, ops);
  const whole = mapped(ops, (op) => narrow && step.inPlace && op.inPlace && step.keep === sameArray);
  const columnsFor = (names: readonly string[]) => mapped(names, () => new Array<FloatArray>(leaves));
  const slotRead: FloatArray[][][] = [];
  const slotWrite: FloatArray[][][] = [];
  ops.forEach((op, k) => {
    const { slotNames, readNames } = op.kernel;
    if (!whole[k]) {
      slotRead.push(columnsFor([...slotNames, ...readNames]));
      slotWrite.push(columnsFor(slotNames));
      op.next = columnsFor(slotNames);
      return;
    }
    // The state's own lists, as they are (a compiled step's are the same lists every step): the
    // columns of a whole kernel are only read, never filled in as leafSlots fills the others'.
    const slots = mapped(slotNames, (_, s) => op.slots[s] as FloatArray[]);
    slotRead.push([...slots, ...mapped(readNames, (_, r) => op.reads[r] as FloatArray[])]);
    slotWrite.push(slots);
    op.next = [...slots];
  });
  if (narrow) {
    for (let i = 0; i < leaves; i++) types.push(LEAF_TYPES.f32.f32);
    if (params !== undefined) pRead = params;
    if (step.apply && last) pWrite = params!;
  }
  /** Kernel k's slot and read arrays at leaf i, computing in `compute`, the leaf of `n` elements. */
  function leafSlots(k: number, i: number, compute: Dtype, n: number): void {
    const op = ops[k]!;
    if (op.active?.[i] === false) return; // no slots there: the kernel skips the leaf
    const slots = op.kernel.slotNames.length;
    const reads = slotRead[k]!;
    for (let s = 0; s < slots; s++) {
      const current = op.slots[s]![i]!;
      reads[s]![i] = inDtype(current, compute, step.alloc);
      if (op.kernel.keeps[s]) {
        op.next[s]![i] = step.inPlace && op.inPlace ? step.keep(current) : current;
        continue;
      }
      const target = step.inPlace && op.inPlace ? step.keep(current) : step.alloc(dtypeOf(current), n, true);
      const write = dtypeOf(target) === compute ? target : step.alloc(compute, n, false);
      slotWrite[k]![s]![i] = write;
      if (write !== target) after.push(() => target.set(write));
      op.next[s]![i] = target;
    }
    for (let r = 0; r < op.reads.length; r++) reads[slots + r]![i] = inDtype(op.reads[r]![i]!, compute, step.alloc);
  }
  // Float32 kernels that all take their columns whole have nothing to fill leaf by leaf.
  const byLeaf = !narrow || whole.includes(false);
  for (let i = 0; byLeaf && i < leaves; i++) {
    const input = x[i]!;
    const p = params?.[i];
    if (narrow) {
      const n = input.length;
      for (let k = 0; k < ops.length; k++) if (!whole[k]) leafSlots(k, i, "f32", n);
      continue;
    }
    let wide = dtypeOf(input) === "f64" || (p !== undefined && dtypeOf(p) === "f64");
    for (let k = 0; !wide && k < ops.length; k++) {
      const op = ops[k]!;
      if (op.active?.[i] === false) continue;
      for (let s = 0; !wide && s < op.slots.length; s++) wide = dtypeOf(op.slots[s]![i]!) === "f64";
    }
    const compute: Dtype = wide ? "f64" : "f32";
    types.push(LEAF_TYPES[compute][dtypeOf(input)]);
    if (p !== undefined) pReads.push(inDtype(p, compute, step.alloc));
    if (step.apply && last) {
      const write = dtypeOf(p!) === compute ? p! : step.alloc(compute, p!.length, false);
      pWrites.push(write);
      if (write !== p) after.push(() => p!.set(write));
    }
    const n = input.length;
    for (let k = 0; k < ops.length; k++) leafSlots(k, i, compute, n);
  }
  /** A buffer's array for every leaf, by its {@link Planned} code. */
  const columnOf = (
    code: readonly number[],
    inputs: readonly FloatArray[],
    outputs: readonly FloatArray[],
  ): readonly FloatArray[] => {
    switch (code[0]) {
      case 0:
        return inputs;
      case 1:
        return outputs;
      case 2:
        return pRead;
      case 3:
        return pWrite;
      case 4:
        return slotRead[code[1]!]![code[2]!]!;
      default:
        return slotWrite[code[1]!]![code[2]!]!;
    }
  };

  // Per-step scalars, per leaf: each kernel's, once its reductions (if any) are known.
  // Per-leaf scalars that are the same at every leaf (a weight decay without a mask: every leaf's
  // flag is 1) are one object, so that the leaves still go to the runner together.
  const perLeaf = mapped(ops, (op) => op.perLeaf ?? op.kernel.spec.perLeaf?.(step.paramsFlat ?? step.updates));
  const oneLeaf = mapped(perLeaf, (own) => (own !== undefined && ownAlike(own) ? own[0] : undefined));
  const leafScalars = (k: number, s: ScalarValues | ScalarValues[]): ScalarValues[] => {
    const own = perLeaf[k];
    const one = oneLeaf[k];
    if (own === undefined) return Array.isArray(s) ? s : new Array<ScalarValues>(leaves).fill(s);
    if (one !== undefined && !Array.isArray(s))
      return new Array<ScalarValues>(leaves).fill({ ...s, ...one } as ScalarValues);
    return mapped(x, (_, i) => ({ ...(Array.isArray(s) ? s[i]! : s), ...own[i] }) as ScalarValues);
  };
  /** Whether kernel k has one object of scalars at every leaf, given its sums (one, or one per leaf). */
  const uniformAt = (k: number, sums: unknown) =>
    (perLeaf[k] === undefined || oneLeaf[k] !== undefined) && !Array.isArray(sums);
  // A kernel that reduces has, until its sums are known, the scalars its reductions may read.
  const scalars: (ScalarValues[] | undefined)[] = mapped(ops, (op, k) =>
    leafScalars(k, op.kernel.reductions.length > 0 ? beforeOf(op) : scalarsOf(op, {})),
  );
  // Per kernel, whether every leaf has the one object of its scalars: it has none per leaf and no
  // sum per leaf (a gate keeps this: one object in, one out).
  const uniform = mapped(ops, (_, k) => uniformAt(k, undefined));

  let runKey = "";
  for (const op of ops) runKey += `${op.kernel.id},`;
  let caches = passCache.get(runKey);
  if (caches === undefined) passCache.set(runKey, (caches = []));
  const cacheOf = (
    stage: number,
    t: LeafTypes,
    apply: boolean,
    reduces: boolean,
    store: boolean,
  ): Map<number, Planned | null> => {
    const at =
      32 * (stage + 1) +
      (store ? 0 : 16) +
      (t.compute === "f64" ? 8 : 0) +
      (t.update === "f64" ? 4 : 0) +
      (apply ? 2 : 0) +
      (reduces ? 1 : 0);
    return (caches[at] ??= new Map());
  };
  const kernelOf = (k: number) => ops[k]!.kernel;

  /** The kernels of a stage from `from` that `mask` has (bit b: kernel from + b). */
  const membersOf = (from: number, mask: number): Member[] => {
    const out: Member[] = [];
    for (let k = from, bit = 1; bit <= mask; k++, bit *= 2) if (mask & bit) out.push({ k, kernel: ops[k]!.kernel });
    return out;
  };
  // The leaves with elements, in order, and where each leaf's block sums start.
  const filled: number[] = [];
  const blocksBefore: number[] = [];
  let blocks = 0;
  for (let i = 0; i < leaves; i++) {
    if (x[i]!.length > 0) filled.push(i);
    blocksBefore.push(blocks);
    blocks += Math.ceil(x[i]!.length / BLOCK);
  }
  /**
   * Runs one stage's passes over every leaf, then the next stage's first kernel's scalars. A
   * stage the next one computes again stores nothing: its `outputs` are then what computes its
   * values, should its sums need them (a norm whose squares overflow).
   */
  const runStage = (
    stage: number,
    from: number,
    active: readonly number[],
    inputs: readonly FloatArray[],
    outputs: readonly FloatArray[] | (() => readonly FloatArray[]),
    reduce: Member | undefined,
    apply: boolean,
  ) => {
    const store = typeof outputs !== "function";
    const written = store ? outputs : inputs;
    const r = reduce === undefined ? 0 : reduce.kernel.reductions.length;
    const sums = reduce === undefined ? undefined : new Float64Array(blocks * r);
    const at = reduce === undefined ? undefined : mapped(blocksBefore, (b) => b * r);
    // Neighbouring leaves mostly share a plan and their scalars: the last leaf's are kept, and
    // a run of leaves with one plan and one set of scalars goes to the runner in one call.
    let last: { cache: Map<number, Planned | null>; mask: number; plan: Planned | null; run: PassRunner } | undefined;
    // The leaf whose scalars `values` are (-1: none yet for this plan).
    let valuesOf = -1;
    let values: number[] = [];
    let columns: (readonly FloatArray[])[] = [];
    // The kernels of the current plan whose scalars may differ between leaves: each leaf's go to
    // the runner with it (see `groupOwn`).
    let varying: number[] = [];
    const group: number[] = [];
    // Where the plan's scalars differ between leaves, each leaf's, in the group's order: the
    // runner takes the group in one call all the same.
    const groupOwn: number[] = [];
    const runGroup = () => {
      if (group.length === 0) return;
      last!.run(columns, group, values, sums, at, groupOwn.length === 0 ? undefined : Float64Array.from(groupOwn));
      group.length = 0;
      groupOwn.length = 0;
    };
    /** Starts a run of leaves on the plan of `mask` in `cache`: its runner, columns and varying scalars. */
    const begin = (cache: Map<number, Planned | null>, mask: number, reducing: Member | undefined, t: LeafTypes) => {
      const plan = planned(cache, mask, () => membersOf(from, mask), reducing, t, apply, kernelOf, store);
      last = { cache, mask, plan, run: plan === null ? noRun : runnerOf(plan.pass) };
      if (plan !== null) {
        columns = mapped(plan.buffers, (code) => columnOf(code, inputs, written));
        varying = [];
        for (const [k] of plan.refs) if (!varying.includes(k) && !uniform[k]) varying.push(k);
      }
      valuesOf = -1;
      return plan;
    };
    /** The plan's scalars at leaf i. */
    const valuesAt = (refs: Planned["refs"], i: number) => mapped(refs, ([k, name]) => scalars[k]![i]![name]!);
    /** Appends the plan's scalars at leaf i to `into`. */
    const pushValues = (refs: Planned["refs"], i: number, into: number[]) => {
      for (const [k, name] of refs) into.push(scalars[k]![i]![name]!);
    };
    /**
     * Runs the stage's leaves as one run where they share everything: float32 all through, one
     * mask, a reducing kernel that sees every leaf, and each kernel's one object of scalars (a
     * compiled step's usual case). Then the leaves' plans need no pass over them; false where
     * they may not share one.
     */
    const runAsOne = (): boolean => {
      if (!narrow || filled.length === 0 || (reduce !== undefined && ops[reduce.k]!.active !== undefined)) return false;
      const mask = active[0]!;
      for (let i = 1; i < leaves; i++) if (active[i] !== mask) return false;
      const t = LEAF_TYPES.f32.f32;
      const plan = begin(cacheOf(stage, t, apply, reduce !== undefined, store), mask, reduce, t);
      if (plan === null) return true;
      if (varying.length === 0) {
        last!.run(columns, filled, valuesAt(plan.refs, filled[0]!), sums, at);
        return true;
      }
      for (const i of filled) pushValues(plan.refs, i, groupOwn);
      last!.run(columns, filled, [], sums, at, Float64Array.from(groupOwn));
      groupOwn.length = 0;
      return true;
    };
    const asOne = runAsOne();
    for (let i = 0; !asOne && i < leaves; i++) {
      const n = x[i]!.length;
      if (n === 0) continue;
      const t = types[i]!;
      const mask = active[i]!;
      // A leaf outside the reducing kernel's view adds nothing to its sums.
      const reducing = reduce !== undefined && ops[reduce.k]!.active?.[i] !== false ? reduce : undefined;
      const cache = cacheOf(stage, t, apply, reducing !== undefined, store);
      if (last === undefined || last.cache !== cache || last.mask !== mask) {
        runGroup();
        begin(cache, mask, reducing, t);
      }
      const { plan } = last!;
      if (plan === null) continue;
      if (varying.length > 0) pushValues(plan.refs, i, groupOwn);
      else if (valuesOf < 0) {
        values = valuesAt(plan.refs, i);
        valuesOf = i;
      }
      group.push(i);
    }
    runGroup();
    // The next stage reads what this one wrote: wait for any threads.
    flush();
    if (reduce === undefined) return;
    const op = ops[reduce.k]!;
    const reduced = reducedScalars(op, sums!, blocksBefore, blocks, (input) =>
      mapped(input === "p" ? pRead : store ? outputs : outputs(), (a, i) =>
        op.active?.[i] === false ? a.subarray(0, 0) : a,
      ),
    );
    scalars[reduce.k] = leafScalars(reduce.k, reduced);
    uniform[reduce.k] = uniformAt(reduce.k, reduced);
  };

  // Stages: [start, end) of the run, each after the first starting at a kernel that reduces.
  // (A stage also ends after 30 kernels, so that its active kernels fit in the bits of a number.)
  const starts = [0];
  for (let k = 1; k < ops.length; k++)
    if (ops[k]!.kernel.reductions.length > 0 || k - starts[starts.length - 1]! >= 30) starts.push(k);
  // A stage of kernels without slots or reads (a scale, a weight decay) before a kernel that
  // reduces stores nothing: its pass only sums, and the next stage computes its values again
  // from the same input, element by element, with the same bits. That saves a write and a read
  // of every element (polyakSgd's scaled gradient, lars' decayed one). Per stage: the first
  // kernel its passes compute (an earlier one where it computes such a stage again), and
  // whether the next stage computes it again (its kernels must fit in the bits of a number).
  const firstOf: number[] = [];
  const again: boolean[] = [];
  for (let s = 0; s < starts.length; s++) {
    const from = starts[s]!;
    const to = s + 1 < starts.length ? starts[s + 1]! : ops.length;
    firstOf.push(s > 0 && again[s - 1]! ? firstOf[s - 1]! : from);
    const nextEnd = s + 2 < starts.length ? starts[s + 2]! : ops.length;
    let stateless = to < ops.length && ops[to]!.kernel.reductions.length > 0 && nextEnd - firstOf[s]! <= 30;
    for (let k = from; stateless && k < to; k++)
      stateless = ops[k]!.kernel.slotNames.length === 0 && ops[k]!.kernel.readNames.length === 0;
    again.push(stateless);
  }
  // The run's input in each leaf's compute dtype: the very list it came as where every leaf is
  // in it already (a compiled step's passes then see the same lists step after step).
  let input = x;
  for (let i = 0; !narrow && i < leaves; i++)
    if (dtypeOf(x[i]!) !== types[i]!.compute) {
      input = mapped(x, (a, j) => inDtype(a, types[j]!.compute, step.alloc));
      break;
    }
  // A donated call reads its input where it keeps its state (a leaf no kernel changes still
  // comes back as the array it came in as, below).
  if (step.arena !== undefined && ops.length > 0) input = staged(step.arena, input);
  let current = input;
  const finals = new Array<FloatArray | undefined>(leaves);
  // The first kernel's sums are over the run's input itself.
  if (ops.length > 0 && ops[0]!.kernel.reductions.length > 0)
    runStage(-1, 0, new Array<number>(leaves).fill(0), current, current, { k: 0, kernel: ops[0]!.kernel }, false);
  for (let s = 0; s < starts.length; s++) {
    const own = starts[s]!;
    const from = firstOf[s]!;
    const to = s + 1 < starts.length ? starts[s + 1]! : ops.length;
    const lastStage = to === ops.length;
    // A gate is known once the passes before its stage have run (the check it reads reduces there).
    for (let k = own; k < to; k++) {
      const gate = ops[k]!.gate;
      if (gate === undefined) continue;
      const value = gate() ? 1 : 0;
      const merged = new Map<ScalarValues, ScalarValues>();
      scalars[k] = mapped(scalars[k]!, (values) => {
        let out = merged.get(values);
        if (out === undefined) merged.set(values, (out = { ...values, [GATE]: value }));
        return out;
      });
    }
    // Whether a kernel with no slots leaves a leaf alone, asked once per object of its scalars:
    // the leaves of a step mostly share one.
    const askedFor = new Array<ScalarValues | undefined>(ops.length).fill(undefined);
    const alone = new Array<boolean>(ops.length).fill(false);
    const leavesAlone = (k: number, values: ScalarValues): boolean => {
      if (askedFor[k] !== values) {
        askedFor[k] = values;
        alone[k] = ops[k]!.kernel.spec.identity?.(values) === true;
      }
      return alone[k]!;
    };
    /** The kernels that change leaf i, as bits (kernel from + b is bit b). */
    const maskOf = (i: number): number => {
      let mask = 0;
      for (let k = from, bit = 1; k < to; k++, bit *= 2) {
        const { kernel } = ops[k]!;
        if (ops[k]!.active?.[i] === false) continue;
        if (kernel.slotNames.length === 0 && leavesAlone(k, scalars[k]![i]!)) continue;
        mask |= bit;
      }
      return mask;
    };
    // Kernels that see every leaf, each with one object of scalars, change every leaf alike;
    // where they change none, or change the params alone, the stage's output is its input.
    let one = leaves > 0;
    for (let k = from; one && k < to; k++) one = ops[k]!.active === undefined && uniform[k]!;
    const mask0 = one ? maskOf(0) : 0;
    const active: number[] = one ? new Array<number>(leaves).fill(mask0) : [];
    const reduce = lastStage ? undefined : { k: to, kernel: ops[to]!.kernel };
    if (again[s]) {
      for (let i = 0; !one && i < leaves; i++) active.push(maskOf(i));
      // Its values, computed only should the sums need them, and then once (each leaf's
      // overflowing norm asks for them).
      let outs: FloatArray[] | undefined;
      const values = () => {
        if (outs !== undefined) return outs;
        outs = mapped(current, (a, i) => (active[i] === 0 ? a : step.alloc(types[i]!.compute, a.length, false)));
        runStage(s, from, active, current, outs, undefined, false);
        return outs;
      };
      runStage(s, from, active, current, values, reduce, false);
      continue;
    }
    const asInput = one && (mask0 === 0 || (lastStage && last && step.apply));
    const built: FloatArray[] = [];
    for (let i = 0; !asInput && i < leaves; i++) {
      const mask = one ? mask0 : maskOf(i);
      if (!one) active.push(mask);
      if (mask === 0) {
        built.push(current[i]!);
        continue;
      }
      const n = x[i]!.length;
      const compute = types[i]!.compute;
      if (!lastStage) {
        built.push(step.alloc(compute, n, false));
        continue;
      }
      // Applied to the params, the last stage writes no updates.
      if (last && step.apply) {
        built.push(current[i]!);
        continue;
      }
      // The last stage writes the updates, in their dtype: into the spare arrays of a donated
      // state where they fit.
      const spare = last ? step.spare?.[i] : undefined;
      const update = types[i]!.update;
      const out =
        spare !== undefined && spare !== x[i] && spare.length === n && dtypeOf(spare) === update
          ? step.keep(spare)
          : step.alloc(update, n, true);
      finals[i] = out;
      const write = update === compute ? out : step.alloc(compute, n, false);
      if (write !== out) after.push(() => out.set(write));
      built.push(write);
    }
    const outs = asInput ? current : built;
    runStage(s, from, active, current, outs, reduce, lastStage && last && step.apply);
    current = outs;
  }
  after.forEach((f) => f());
  return mapped(current, (data, i) => {
    const final = finals[i];
    if (final !== undefined) return final;
    // A leaf no kernel changed comes back as the very array it came in as.
    if (data === input[i]) return x[i]!;
    // One the last stage left alone holds an earlier stage's result in the compute dtype: the
    // updates are in their own, rounded once as the last stage would have stored them.
    const update = types[i]!.update;
    if ((last && step.apply) || dtypeOf(data) === update) return data;
    const out = step.alloc(update, data.length, true);
    out.set(data);
    return out;
  });
}

/** A kernel's scalars known before its reductions: its hyperparameters and what `before` gives. */
function beforeOf(op: ElementOp): Record<string, number> {
  const { spec } = op.kernel;
  return { ...spec.hyper, ...spec.before?.(spec.hyper, op.count, op.carried) } as Record<string, number>;
}

/** A kernel's scalars: its hyperparameters and its per-step scalars. */
function scalarsOf(
  op: ElementOp,
  reduced: Record<string, number>,
  leaf?: number,
  before: Record<string, number> = beforeOf(op),
): Record<string, number> {
  const { spec } = op.kernel;
  const values = { ...before, ...spec.scalars(spec.hyper, op.count, reduced, op.carried) };
  op.onScalars?.(values, leaf);
  return values;
}

/**
 * A kernel's scalars from its reductions: once for tree sums, per leaf when any sum is per leaf.
 * A norm is the root of its sum of squares, or, where the squares overflow, the norm rescaled
 * from the values themselves (`values` gives them: the update entering the kernel, or the params).
 */
function reducedScalars(
  op: ElementOp,
  results: Float64Array,
  blocksBefore: readonly number[],
  blocks: number,
  values: (input: "x" | "p") => readonly FloatArray[],
): Record<string, number> | Record<string, number>[] {
  const reductions = op.kernel.reductions;
  const r = reductions.length;
  const leaves = blocksBefore.length;
  const blocksOf = (i: number) => (i + 1 < leaves ? blocksBefore[i + 1]! : blocks) - blocksBefore[i]!;
  const column = reductions.map((_, k) => {
    const c = new Float64Array(blocks);
    for (let b = 0; b < blocks; b++) c[b] = results[b * r + k]!;
    return c;
  });
  const finish = (k: number, sum: number, leaf: number | undefined): number => {
    const norm = reductions[k]!.norm;
    if (norm === undefined) return sum;
    const root = Math.sqrt(sum);
    if (Number.isFinite(root)) return root;
    const arrays = values(norm);
    return globalNormOf(leaf === undefined ? arrays : [arrays[leaf]!]);
  };
  const totals = reductions.map((_, k) => finish(k, sumBlocks(column[k]!), undefined));
  const reducedFor = (i: number | undefined) =>
    Object.fromEntries(
      reductions.map((red, k) => {
        if (red.over === "tree" || i === undefined) return [red.name, totals[k]!];
        const from = blocksBefore[i]!;
        return [red.name, finish(k, sumBlocks(column[k]!, from, from + blocksOf(i)), i)];
      }),
    );
  if (!reductions.some((red) => red.over === "leaf")) return scalarsOf(op, reducedFor(undefined));
  // What comes before the sums is the same at every leaf: computed once.
  const before = beforeOf(op);
  return blocksBefore.map((_, i) => scalarsOf(op, reducedFor(i), i, before));
}

/** The pass `p' = p + in` in each dtype: the addition a compiled step fuses into its last pass. */
const applyPasses = {
  f32: fuse([], undefined, { compute: "f32", update: "f32" }, true)!,
  f64: fuse([], undefined, { compute: "f64", update: "f64" }, true)!,
};

/**
 * `outs[i] = xs[i] + ys[i]` for arrays of one dtype each (`outs[i]` may be `xs[i]`), as the pass a
 * compiled step applies its updates with, on the current backend, one run per dtype:
 * `applyUpdates` itself.
 */
export function addInto(xs: readonly FloatArray[], ys: readonly FloatArray[], outs: readonly FloatArray[]): void {
  for (const dtype of ["f32", "f64"] as const) {
    const leaves: number[] = [];
    for (let i = 0; i < xs.length; i++) if (dtypeOf(xs[i]!) === dtype) leaves.push(i);
    if (leaves.length === 0) continue;
    const pass = applyPasses[dtype];
    const columns = pass.buffers.map((name) => (name === P ? xs : name === "in" ? ys : outs));
    runnerOf(pass)(columns, leaves, []);
  }
}

/** The transformation an elementwise declaration describes. */
export function elementwise<S = unknown>(spec: KernelSpec): Transformation<S> {
  return new Transformation<S>({ kind: "kernel", kernel: buildKernel(spec) });
}
