/**
 * Law checkers: run a law as a fast-check property against any transformation and, when it
 * fails, throw a {@link LawViolation} that states the law in words with the shrunk
 * counterexample.
 *
 * @module
 */
import * as fc from "fast-check";
import { applyUpdates } from "../transforms/apply.js";
import type { GradientTransformation } from "../core/base.js";
import { chain, identity } from "../combinators/chain.js";
import { sgd, adam } from "../optimizers/standard.js";
import {
  lookahead as gradtxLookahead,
  slowParams as gradtxSlowParams,
  type LookaheadOptions,
} from "../lookahead/lookahead.js";
import { assertSameStructure, dataOf, flatten, isFloatArray, isLeaf, MAX_DEPTH, type PyTree } from "../core/pytree.js";
import { GradTxError } from "../core/errors.js";
import { arbitraryProblem, hyperparameters, type Problem } from "./arbitraries.js";
import { checkBoolean, checkNumber, invalid, readOptions } from "../core/validate.js";

/** The keys of {@link LawOptions}. */
const LAW_KEYS = ["numRuns", "seed", "problems"] as const;

/** Reads and checks a law checker's options. */
function lawOptions(where: string, options: LawOptions | null | undefined): LawOptions {
  const o = readOptions(where, options, LAW_KEYS);
  if (o.numRuns !== undefined) checkNumber(where, "numRuns", o.numRuns, { min: 1, integer: true });
  if (o.seed !== undefined) checkNumber(where, "seed", o.seed, { integer: true });
  // Duck-typed: a second copy of fast-check has its own Arbitrary class.
  const problems = o.problems as { generate?: unknown } | undefined;
  if (problems !== undefined && (typeof problems !== "object" || typeof problems.generate !== "function"))
    invalid(where, "problems must be a fast-check Arbitrary of problems, e.g. arbitraryProblem()");
  return o;
}

/** Reads and checks a Lookahead law checker's options. */
function lookaheadLawOptions(where: string, options: LookaheadLawOptions | null | undefined): LookaheadLawOptions {
  const o = readOptions(where, options, [...LAW_KEYS, "lookahead", "slowParams", "inners", "extra"]);
  const { lookahead, slowParams, inners, extra: _extra, ...laws } = o;
  lawOptions(where, laws);
  if (lookahead !== undefined && typeof lookahead !== "function")
    invalid(where, "lookahead must be a function (inner, { syncPeriod, alpha }) => transformation");
  if (slowParams !== undefined && typeof slowParams !== "function")
    invalid(where, "slowParams must be a function of a state");
  if (
    inners !== undefined &&
    (!Array.isArray(inners) || inners.length === 0 || inners.some((f) => typeof f !== "function"))
  )
    invalid(where, "inners must be a non-empty array of functions of a learning rate");
  return o;
}

/** The error a law checker throws: the law in words, then fast-check's report. @since 0.1.0 */
export class LawViolation extends Error {
  /** The law's short name, e.g. `"purity"`. */
  readonly law: string;
  constructor(law: string, statement: string, report: string) {
    super(`Law "${law}" does not hold: ${statement}\n${report}`);
    this.name = "LawViolation";
    this.law = law;
  }
}

/** How many cases a checker tries, and on what. @since 0.1.0 */
export interface LawOptions {
  /** fast-check runs. Default 100. */
  readonly numRuns?: number;
  /** fast-check seed, to replay a failure. */
  readonly seed?: number;
  /** The training problems to try. Default {@link arbitraryProblem}(). */
  readonly problems?: fc.Arbitrary<Problem>;
}

function assertLaw<T>(
  law: string,
  statement: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => void,
  options: LawOptions,
): void {
  const parameters: fc.Parameters<[T]> = { numRuns: options.numRuns ?? 100, includeErrorInReport: true };
  if (options.seed !== undefined) parameters.seed = options.seed;
  const result = fc.check(
    fc.property(arb, (value) => {
      check(value);
    }),
    parameters,
  );
  if (result.failed) throw new LawViolation(law, statement, fc.defaultReportMessage(result) ?? "");
}

/**
 * A complete fingerprint of a value: every bit of every number (NaN and -0 included), and the
 * contents of every container it reaches, so that comparing fingerprints taken before and after a
 * call finds any mutation. Arrays, plain objects, float typed arrays and ndarrays (their
 * row-major elements), other typed arrays and `ArrayBuffer`s (their elements), `Map`s and `Set`s
 * (their entries in order), `Date`s (their time), boxed primitives (their value) and any other
 * object (its class name and own enumerable properties). A container met again inside itself
 * is marked as a cycle; one nested deeper than 1,000 levels throws `NOT_A_PYTREE`.
 */
export function fingerprint(value: unknown, withValues = true): string {
  const ancestors: object[] = [];
  const num = (x: number | bigint): string => (Object.is(x, -0) ? "-0" : String(x));
  const go = (v: unknown): string => {
    if (isFloatArray(v)) {
      const name = v instanceof Float32Array ? "f32" : "f64";
      return withValues ? `${name}[${Array.from(v, num).join(",")}]` : `${name}(${v.length})`;
    }
    if (typeof v === "number") return withValues ? num(v) : "number";
    if (typeof v !== "object" || v === null) return typeof v === "function" ? "function" : `${typeof v}:${String(v)}`;
    const cycle = ancestors.indexOf(v);
    if (cycle >= 0) return `<cycle ${ancestors.length - cycle}>`;
    if (ancestors.length >= MAX_DEPTH)
      throw new GradTxError("NOT_A_PYTREE", `fingerprint: a value nested deeper than ${MAX_DEPTH} levels`);
    ancestors.push(v);
    try {
      return container(v);
    } finally {
      ancestors.pop();
    }
  };
  const entries = (o: object): string =>
    Object.keys(o)
      .sort()
      .map((k) => `${k}:${go((o as Record<string, unknown>)[k])}`)
      .join(",");
  const container = (v: object): string => {
    if (Array.isArray(v)) {
      const items: string[] = [];
      // Holes and undefined differ; extra own keys on an array are data too.
      for (let i = 0; i < v.length; i++) items.push(i in v ? go(v[i]) : "<hole>");
      const extra = Object.keys(v).filter((k) => !/^(0|[1-9][0-9]*)$/.test(k));
      return `[${items.join(",")}${extra.length > 0 ? `;${extra.map((k) => `${k}:${go((v as unknown as Record<string, unknown>)[k])}`).join(",")}` : ""}]`;
    }
    const o = v as Record<string, unknown>;
    // An ndarray leaf by its elements; anything else shaped like one (a malformed layout) by its fields.
    if (isLeaf(v)) return `nd(${(o.shape as number[]).join("x")})${go(dataOf(v))}`;
    if (ArrayBuffer.isView(v)) {
      const name = v.constructor.name;
      const items = v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
      return withValues
        ? `${name}[${Array.from(items as unknown as ArrayLike<number>, num).join(",")}]`
        : `${name}(${v.byteLength})`;
    }
    if (v instanceof ArrayBuffer)
      return withValues ? `ArrayBuffer[${new Uint8Array(v).join(",")}]` : `ArrayBuffer(${v.byteLength})`;
    if (v instanceof Map) return `Map{${Array.from(v, ([k, x]) => `${go(k)}=>${go(x)}`).join(",")}}${entries(v)}`;
    if (v instanceof Set) return `Set{${Array.from(v, go).join(",")}}${entries(v)}`;
    if (v instanceof Date) return `Date(${withValues ? num(v.getTime()) : ""})${entries(v)}`;
    if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt)
      return `${v.constructor.name}(${withValues ? go(v.valueOf()) : ""})${entries(v)}`;
    const proto: unknown = Object.getPrototypeOf(v);
    const name =
      proto === Object.prototype || proto === null
        ? ""
        : ((proto as { constructor?: { name?: unknown } }).constructor?.name ?? "?");
    return `${typeof name === "string" ? name : "?"}{${entries(v)}}`;
  };
  return go(value);
}

/** The layout of plain data: structure, dtypes and lengths, without the values. */
export function layout(value: unknown): string {
  return fingerprint(value, false);
}

/** The params, updates and states after each step of {@link runProblem}. @since 0.1.0 */
export interface ProblemRun<S> {
  /** The params after each step. */
  readonly params: PyTree[];
  /** The updates of each step. */
  readonly updates: PyTree[];
  /** The state after each step. */
  readonly states: S[];
}

/**
 * Runs `tx` open loop over the problem's gradients, applying each update to the params.
 *
 * @example
 * ```ts
 * import { sgd } from "gradtx";
 * import { runProblem } from "gradtx/laws";
 * const run = runProblem(sgd(0.1), { params: Float64Array.of(1), grads: [Float64Array.of(1)] });
 * // run.params[0] = [0.9]
 * ```
 * @since 0.1.0
 */
export function runProblem<S>(tx: GradientTransformation<S>, problem: Problem): ProblemRun<S> {
  const out: ProblemRun<S> = { params: [], updates: [], states: [] };
  let params = problem.params;
  let state = tx.init(params);
  for (const g of problem.grads) {
    const [u, next] = tx.update(g, state, params);
    params = applyUpdates(params, u);
    state = next;
    out.params.push(params);
    out.updates.push(u);
    out.states.push(state);
  }
  return out;
}

/** Throws unless two trees agree elementwise within `rel * (1 + |x|)` (1e-12 for float64 leaves, 1e-5 for float32). */
export function assertClose(actual: PyTree, expected: PyTree, what: string, rel64 = 1e-12, rel32 = 1e-5): void {
  const a = flatten(actual);
  const e = flatten(expected);
  assertSameStructure(e, a);
  e.leaves.forEach((leaf, i) => {
    const x = dataOf(a.leaves[i]!);
    const y = dataOf(leaf);
    const rel = y instanceof Float32Array || x instanceof Float32Array ? rel32 : rel64;
    for (let j = 0; j < y.length; j++) {
      const ok = Math.abs(x[j]! - y[j]!) <= rel * (1 + Math.abs(y[j]!)) || (Number.isNaN(x[j]!) && Number.isNaN(y[j]!));
      if (!ok) throw new Error(`${what}: leaf ${i} element ${j} is ${x[j]}, expected ${y[j]} (relative ${rel})`);
    }
  });
}

function assertSame(actual: unknown, expected: unknown, what: string): void {
  assertUnchanged(actual, fingerprint(expected), what);
}

/** Throws unless `value` still has the fingerprint `before`. */
function assertUnchanged(value: unknown, before: string, what: string): void {
  const now = fingerprint(value);
  if (now !== before) throw new Error(`${what}: got ${now.slice(0, 300)}, expected ${before.slice(0, 300)}`);
}

/** Throws unless two trees hold bit-identical elements (leaf kinds may differ: an ndarray and its data agree). */
function assertSameValues(actual: PyTree, expected: PyTree, what: string): void {
  assertSame(flatten(actual).leaves.map(dataOf), flatten(expected).leaves.map(dataOf), what);
}

/**
 * Purity: `init`, `update` and `applyUpdates` leave every input (grads, state, params) bit for
 * bit as it was.
 *
 * @example
 * ```ts
 * import { adam } from "gradtx";
 * import { checkPurity } from "gradtx/laws";
 * checkPurity(adam(0.1), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkPurity(tx: GradientTransformation, options: LawOptions | null = {}): void {
  options = lawOptions("checkPurity", options);
  assertLaw(
    "purity",
    "init, update and applyUpdates must not change their inputs",
    options.problems ?? arbitraryProblem(),
    ({ params, grads }) => {
      const paramsBefore = fingerprint(params);
      let state = tx.init(params);
      assertUnchanged(params, paramsBefore, "params after init");
      for (const g of grads) {
        const gradsBefore = fingerprint(g);
        const stateBefore = fingerprint(state);
        const [u, next] = tx.update(g, state, params);
        assertUnchanged(g, gradsBefore, "grads after update");
        assertUnchanged(state, stateBefore, "state after update");
        assertUnchanged(params, paramsBefore, "params after update");
        const updatesBefore = fingerprint(u);
        applyUpdates(params, u);
        assertUnchanged(u, updatesBefore, "updates after applyUpdates");
        assertUnchanged(params, paramsBefore, "params after applyUpdates");
        state = next;
      }
    },
    options,
  );
}

/**
 * Determinism: the same inputs give bit-identical updates and states, however often and in
 * whatever order they are run (no hidden state outside the state).
 *
 * @example
 * ```ts
 * import { sgd } from "gradtx";
 * import { checkDeterminism } from "gradtx/laws";
 * checkDeterminism(sgd(0.1, { momentum: 0.9 }), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkDeterminism(tx: GradientTransformation, options: LawOptions | null = {}): void {
  options = lawOptions("checkDeterminism", options);
  assertLaw(
    "determinism",
    "the same grads, state and params must give the same updates and state",
    options.problems ?? arbitraryProblem(),
    (problem) => {
      const first = runProblem(tx, problem);
      const second = runProblem(tx, problem);
      assertSame(second.updates, first.updates, "updates of a second run");
      assertSame(second.states, first.states, "states of a second run");
      // Replaying one step from a recorded state must give the recorded step again.
      const t = problem.grads.length - 1;
      const state = t === 0 ? tx.init(problem.params) : first.states[t - 1];
      const params = t === 0 ? problem.params : first.params[t - 1];
      const [u] = tx.update(problem.grads[t], state, params);
      assertSame(u, first.updates[t], `replayed step ${t + 1}`);
    },
    options,
  );
}

/**
 * Structure and dtype preservation: updates have the grads' structure, leaf kinds, shapes and
 * dtypes; every state has the layout of the initial state.
 *
 * @example
 * ```ts
 * import { adamw } from "gradtx";
 * import { checkStructure } from "gradtx/laws";
 * checkStructure(adamw(1e-3), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkStructure(tx: GradientTransformation, options: LawOptions | null = {}): void {
  options = lawOptions("checkStructure", options);
  assertLaw(
    "structure and dtype preservation",
    "updates must have the structure, leaf kinds and dtypes of the grads, and states the layout of init's",
    options.problems ?? arbitraryProblem(),
    (problem) => {
      const run = runProblem(tx, problem);
      const initial = layout(tx.init(problem.params));
      run.updates.forEach((u, t) => {
        const g = problem.grads[t];
        if (layout(u) !== layout(g))
          throw new Error(`updates of step ${t + 1}: layout ${layout(u)}, grads ${layout(g)}`);
        if (layout(run.states[t]) !== initial)
          throw new Error(`state after step ${t + 1}: layout ${layout(run.states[t])}, initially ${initial}`);
      });
    },
    options,
  );
}

/**
 * Finite in, finite out: finite grads and params of moderate size give finite updates and
 * states.
 *
 * @example
 * ```ts
 * import { adam } from "gradtx";
 * import { checkFinite } from "gradtx/laws";
 * checkFinite(adam(0.1), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkFinite(tx: GradientTransformation, options: LawOptions | null = {}): void {
  options = lawOptions("checkFinite", options);
  const finite = (x: unknown): boolean => !/NaN|Infinity/.test(fingerprint(x));
  assertLaw(
    "finite in, finite out",
    "finite grads and params must give finite updates and states",
    options.problems ?? arbitraryProblem(),
    (problem) => {
      const run = runProblem(tx, problem);
      run.updates.forEach((u, t) => {
        if (!finite(u)) throw new Error(`updates of step ${t + 1} are not finite: ${fingerprint(u).slice(0, 300)}`);
        if (!finite(run.states[t])) throw new Error(`state after step ${t + 1} is not finite`);
      });
    },
    options,
  );
}

/**
 * `chain`'s unit: `chain(identity(), tx)`, `chain(tx, identity())` and `tx` give bit-identical
 * update trajectories.
 *
 * @example
 * ```ts
 * import { adam } from "gradtx";
 * import { checkChainIdentity } from "gradtx/laws";
 * checkChainIdentity(adam(0.1), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkChainIdentity(tx: GradientTransformation, options: LawOptions | null = {}): void {
  options = lawOptions("checkChainIdentity", options);
  const left = chain(identity(), tx);
  const right = chain(tx, identity());
  assertLaw(
    "chain identity",
    "chain(identity(), tx) and chain(tx, identity()) must update exactly as tx",
    options.problems ?? arbitraryProblem(),
    (problem) => {
      const expected = runProblem(tx, problem).updates;
      assertSame(runProblem(left, problem).updates, expected, "chain(identity(), tx)");
      assertSame(runProblem(right, problem).updates, expected, "chain(tx, identity())");
    },
    options,
  );
}

/**
 * `chain`'s associativity: `chain(a, chain(b, c))`, `chain(chain(a, b), c)` and `chain(a, b, c)`
 * give bit-identical update trajectories (their states nest differently).
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm, scaleByAdam, scale } from "gradtx";
 * import { checkChainAssociativity } from "gradtx/laws";
 * checkChainAssociativity(clipByGlobalNorm(1), scaleByAdam(), scale(-0.1), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkChainAssociativity(
  a: GradientTransformation,
  b: GradientTransformation,
  c: GradientTransformation,
  options: LawOptions | null = {},
): void {
  options = lawOptions("checkChainAssociativity", options);
  const flat = chain(a, b, c);
  const nestedRight = chain(a, chain(b, c));
  const nestedLeft = chain(chain(a, b), c);
  assertLaw(
    "chain associativity",
    "chain(a, chain(b, c)), chain(chain(a, b), c) and chain(a, b, c) must update identically",
    options.problems ?? arbitraryProblem(),
    (problem) => {
      const expected = runProblem(flat, problem).updates;
      assertSame(runProblem(nestedRight, problem).updates, expected, "chain(a, chain(b, c))");
      assertSame(runProblem(nestedLeft, problem).updates, expected, "chain(chain(a, b), c)");
    },
    options,
  );
}

/** A Lookahead implementation to check: gradtx's by default, or your own. @since 0.1.0 */
export interface LookaheadLawOptions extends LawOptions {
  /** Builds Lookahead around an inner optimizer. Default gradtx's `lookahead`. */
  readonly lookahead?: (
    inner: GradientTransformation,
    options: { syncPeriod: number; alpha: number },
  ) => GradientTransformation;
  /** Reads the slow weights out of a state. Default gradtx's `slowParams`. */
  readonly slowParams?: (state: unknown) => PyTree;
  /** Inner optimizers to try, built from a learning rate. Default sgd, sgd with momentum 0.9, adam. */
  readonly inners?: readonly ((learningRate: number) => GradientTransformation)[];
  /** Extra options passed to every Lookahead built (e.g. `innerState`). */
  readonly extra?: Omit<LookaheadOptions, "syncPeriod" | "alpha">;
}

const DEFAULT_INNERS: readonly ((lr: number) => GradientTransformation)[] = [
  (lr) => sgd(lr),
  (lr) => sgd(lr, { momentum: 0.9 }),
  (lr) => adam(lr),
];

function lookaheadOf(options: LookaheadLawOptions) {
  return (
    options.lookahead ??
    ((inner: GradientTransformation, o: { syncPeriod: number; alpha: number }) =>
      gradtxLookahead(inner, { ...options.extra, ...o }) as GradientTransformation)
  );
}

function lookaheadCase(options: LookaheadLawOptions) {
  const inners = options.inners ?? DEFAULT_INNERS;
  return fc.record({
    problem: options.problems ?? arbitraryProblem({ maxSteps: 16 }),
    inner: fc.integer({ min: 0, max: inners.length - 1 }).map((i) => inners[i]!),
    learningRate: hyperparameters.learningRate,
    syncPeriod: hyperparameters.syncPeriod,
    alpha: hyperparameters.alpha,
  });
}

/**
 * Lookahead with `alpha = 1` follows the inner optimizer's trajectory (within a few roundings:
 * relative 1e-12 in float64). It holds for `innerState` `"keep"` and `"interpolate"`, not for
 * `"reset"`, which restarts the inner state at every sync whatever alpha is.
 *
 * @example
 * ```ts
 * import { checkLookaheadAlphaOne } from "gradtx/laws";
 * checkLookaheadAlphaOne({ numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkLookaheadAlphaOne(options: LookaheadLawOptions | null = {}): void {
  options = lookaheadLawOptions("checkLookaheadAlphaOne", options);
  const la = lookaheadOf(options);
  assertLaw(
    "lookahead alpha = 1",
    "with alpha = 1 the fast weights must follow the inner optimizer's trajectory",
    lookaheadCase(options),
    ({ problem, inner, learningRate, syncPeriod }) => {
      const plain = runProblem(inner(learningRate), problem).params;
      const wrapped = runProblem(la(inner(learningRate), { syncPeriod, alpha: 1 }), problem).params;
      wrapped.forEach((p, t) => assertClose(p, plain[t], `params after step ${t + 1}`));
    },
    options,
  );
}

/**
 * Lookahead with `alpha = 0` brings the fast weights back to the initial params at every sync.
 *
 * @example
 * ```ts
 * import { checkLookaheadAlphaZero } from "gradtx/laws";
 * checkLookaheadAlphaZero({ numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkLookaheadAlphaZero(options: LookaheadLawOptions | null = {}): void {
  options = lookaheadLawOptions("checkLookaheadAlphaZero", options);
  const la = lookaheadOf(options);
  assertLaw(
    "lookahead alpha = 0",
    "with alpha = 0 the fast weights must return to the initial params after steps k, 2k, ...",
    lookaheadCase(options),
    ({ problem, inner, learningRate, syncPeriod }) => {
      const run = runProblem(la(inner(learningRate), { syncPeriod, alpha: 0 }), problem);
      run.params.forEach((p, t) => {
        if ((t + 1) % syncPeriod === 0) assertClose(p, problem.params, `params after sync step ${t + 1}`);
      });
    },
    options,
  );
}

/**
 * Lookahead with `syncPeriod = 1` around `sgd(lr)` is `sgd(alpha * lr)`.
 *
 * @example
 * ```ts
 * import { checkLookaheadSyncPeriodOne } from "gradtx/laws";
 * checkLookaheadSyncPeriodOne({ numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkLookaheadSyncPeriodOne(options: LookaheadLawOptions | null = {}): void {
  options = lookaheadLawOptions("checkLookaheadSyncPeriodOne", options);
  const la = lookaheadOf(options);
  assertLaw(
    "lookahead syncPeriod = 1",
    "lookahead(sgd(lr), { syncPeriod: 1, alpha }) must follow sgd(alpha * lr)",
    lookaheadCase(options),
    ({ problem, learningRate, alpha }) => {
      const expected = runProblem(sgd(alpha * learningRate), problem).params;
      const actual = runProblem(la(sgd(learningRate), { syncPeriod: 1, alpha }), problem).params;
      actual.forEach((p, t) => assertClose(p, expected[t], `params after step ${t + 1}`));
    },
    options,
  );
}

/**
 * After every sync the fast weights equal the slow weights bit for bit, and between syncs the
 * slow weights do not move.
 *
 * @example
 * ```ts
 * import { checkLookaheadSync } from "gradtx/laws";
 * checkLookaheadSync({ numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkLookaheadSync(options: LookaheadLawOptions | null = {}): void {
  options = lookaheadLawOptions("checkLookaheadSync", options);
  const la = lookaheadOf(options);
  const slowOf = options.slowParams ?? gradtxSlowParams;
  assertLaw(
    "lookahead sync",
    "after steps k, 2k, ... params must equal the slow weights bit for bit; between syncs the slow weights stay",
    lookaheadCase(options),
    ({ problem, inner, learningRate, syncPeriod, alpha }) => {
      const tx = la(inner(learningRate), { syncPeriod, alpha });
      const run = runProblem(tx, problem);
      let previousSlow = slowOf(tx.init(problem.params));
      run.states.forEach((state, t) => {
        const slow = slowOf(state);
        if ((t + 1) % syncPeriod === 0)
          assertSameValues(run.params[t], slow, `params vs slow weights after sync step ${t + 1}`);
        else assertSameValues(slow, previousSlow, `slow weights after non-sync step ${t + 1}`);
        previousSlow = slow;
      });
    },
    options,
  );
}

/**
 * All four Lookahead laws of the contract: alpha 1, alpha 0, syncPeriod 1 around sgd, and fast
 * equals slow after each sync.
 *
 * @example
 * ```ts
 * import { checkLookaheadLaws } from "gradtx/laws";
 * // Under "reset" alpha = 1 does not hold: the inner state restarts at every sync whatever alpha is.
 * checkLookaheadLaws({ numRuns: 20, extra: { innerState: "interpolate" } });
 * ```
 * @since 0.1.0
 */
export function checkLookaheadLaws(options: LookaheadLawOptions | null = {}): void {
  options = lookaheadLawOptions("checkLookaheadLaws", options);
  checkLookaheadAlphaOne(options);
  checkLookaheadAlphaZero(options);
  checkLookaheadSyncPeriodOne(options);
  checkLookaheadSync(options);
}

/**
 * Every law that applies to any single transformation: purity, determinism, structure and
 * dtype preservation, chain identity, and (unless `finite: false`) finite in, finite out.
 *
 * @example
 * ```ts
 * import { adam } from "gradtx";
 * import { checkTransformationLaws } from "gradtx/laws";
 * checkTransformationLaws(adam(0.1), { numRuns: 20 });
 * ```
 * @since 0.1.0
 */
export function checkTransformationLaws(
  tx: GradientTransformation,
  options: (LawOptions & { readonly finite?: boolean }) | null = {},
): void {
  options = readOptions("checkTransformationLaws", options, [...LAW_KEYS, "finite"]);
  const { finite, ...laws } = options;
  lawOptions("checkTransformationLaws", laws);
  if (finite !== undefined) checkBoolean("checkTransformationLaws", "finite", finite);
  checkPurity(tx, laws);
  checkDeterminism(tx, laws);
  checkStructure(tx, laws);
  checkChainIdentity(tx, laws);
  if (finite !== false) checkFinite(tx, laws);
}
