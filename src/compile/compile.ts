/**
 * The compiled fast path: a training step as generated WebAssembly SIMD over buffers it owns.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { applyUpdates } from "../apply.js";
import {
  asLeafLike,
  assertSameStructure,
  ctorOf,
  dataOf,
  flatten,
  unflatten,
  type AsPyTree,
  type DenseTree,
  type Flat,
  type FloatArray,
  type PyTree,
  type PyTreeLike,
} from "../pytree.js";
import { biasCorrection, increment, zerosTree } from "../state.js";
import { globalNormOf } from "../tree.js";
import { checkNumber, checkTransformation } from "../validate.js";
import { GRAD, kernels, PARAMS, plan, Unsupported, type Op, type Program } from "./plan.js";
import { moduleBytes, PAGE, wasm } from "./wasm.js";
import { coalesce, runTasks, split, startPool, workerThreads, type Task } from "./threads.js";
import { GradTxError } from "../errors.js";

/** Leaves at least this long are split over the threads; shorter ones go whole to one thread. */
const MIN_SPLIT = 65536;

/** Options of {@link compile}. @since 0.2.0 */
export interface CompileOptions<S = unknown> {
  /**
   * A state to continue from (a pure state of `tx`, e.g. from `deserializeState` or from another
   * run's `state()`). Default: `tx.init(params)`.
   */
  readonly state?: S;
  /**
   * Threads to run on, an integer >= 1: with more than one, worker threads share the buffers and
   * each runs its part of every leaf of at least 65,536 elements (smaller leaves go whole to one
   * thread). Needs Node's worker_threads; `dispose()` ends them. A worker polls for its next job
   * for a few tens of microseconds before sleeping. Default 1.
   */
  readonly threads?: number;
}

/**
 * A compiled optimizer: params, gradients and state in buffers it owns and reuses.
 *
 * `params` and `grads` are trees of views into those buffers: the params change in place at
 * every `step`, and a gradient may be written straight into `grads` (then `step()` without an
 * argument reads it, with no copy). `state()` returns an ordinary pure state, as `tx.update`
 * would have returned it: it serializes, and continues in the pure API or in another `compile`.
 *
 * @since 0.2.0
 */
export interface CompiledOptimizer<S = unknown, P = PyTree> {
  /** The params, as views updated in place (copy them to keep a snapshot), of the params' type. */
  readonly params: P;
  /**
   * Buffers shaped like the params for the next gradient; `step()` reads them. Their ndarray
   * leaves are ndarrays on the compiled path and typed arrays on the pure one.
   */
  readonly grads: P | DenseTree<P>;
  /** One training step: `[u, s] = tx.update(grads, s, params); params = applyUpdates(params, u)`. */
  step(grads?: PyTree | AsPyTree<P>): void;
  /** The current state as a pure state of `tx` (fresh arrays, shares nothing with the buffers). */
  state(): S;
  /** `"wasm"` for the compiled path, `"pure"` when `tx` has no compiled form. */
  readonly backend: "wasm" | "pure";
  /** Why the pure path runs (with `backend: "pure"`). */
  readonly reason: string | undefined;
  /** The threads a step runs on (1 on the pure path). */
  readonly threads: number;
  /** Ends the worker threads; a step after it throws `BAD_STATE`. */
  dispose(): void;
}

/** Bytes of one element of a dtype. */
const SIZE = { f32: 4, f64: 8 } as const;
const dtypeOf = (a: FloatArray): "f32" | "f64" => (a instanceof Float32Array ? "f32" : "f64");
const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/**
 * Compiles `tx` for `params` into a fast training step: one WebAssembly SIMD loop per leaf that
 * runs the whole chain (clip scale, weight decay, Adam or momentum, learning rate, the update and
 * the Lookahead sync) in one pass, after one reduction pass per clip. Modules are generated at
 * run time; nothing is allocated per step.
 *
 * Supported (after flattening chains): `clipByGlobalNorm`, `addDecayedWeights`, `scale`,
 * `scaleByLearningRate`, `scaleBySchedule` before at most one `scaleByAdam` or `trace`, then
 * `addDecayedWeights` and scalings, all optionally inside one `lookahead` (fixed `alpha`,
 * `innerState` `"keep"` or `"reset"`) that ends the chain: `sgd`, `adam`, `adamw`, `nadam` and
 * their Lookahead. Anything else runs on the pure path (`backend: "pure"`, with the `reason`),
 * with the pure path's numbers.
 *
 * Numbers: float64 params give the pure path's numbers up to the order of the norm's sum
 * (within 1e-12 relative); float32 params compute in float32 arithmetic (each operation rounded
 * to float32, where the pure path rounds once per stored array), so they agree to a few float32
 * ulps per step. One float32 difference is worth knowing: an intermediate below float32's normal
 * range (about 1e-38, e.g. `0.1 * g` for a subnormal `g`) underflows to 0 where the pure path's
 * float64 intermediate does not, and an optimizer with a large gain on tiny inputs (Adam with weight
 * decay: about `lr * wd / eps` per step) can grow that difference.
 *
 * ```
 * run.step(g)  ≡  [u, s] = tx.update(g, s, params); params = applyUpdates(params, u)
 * ```
 *
 * @param tx The optimizer.
 * @param params The initial params (copied; the input is not touched).
 * @example
 * ```ts
 * import { adam, chain, clipByGlobalNorm, compile, lookahead } from "gradtx";
 * const run = compile(chain(clipByGlobalNorm(1), lookahead(adam(0.1))), { w: Float32Array.of(1, 2, 3) });
 * const w = run.params.w; // a live view
 * for (let step = 0; step < 10; step++) {
 *   const g = run.grads.w;
 *   for (let j = 0; j < w.length; j++) g[j] = 2 * w[j]!; // d/dw of sum(w^2), written in place
 *   run.step();
 * }
 * run.state(); // a pure state of the chain: [{}, { count: 10, slow, inner }]
 * ```
 * @since 0.2.0
 */
export function compile<S, P extends PyTree | PyTreeLike<P>>(
  tx: GradientTransformation<S>,
  params: P,
  options: CompileOptions<S> = {},
): CompiledOptimizer<S, P> {
  checkTransformation("compile: tx", tx);
  if (typeof options !== "object" || options === null)
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `compile: options must be an object ({ state?, threads? }), got ${options === null ? "null" : typeof options}`,
    );
  const threads = checkNumber("compile", "threads", options.threads ?? 1, { min: 1, max: 64, integer: true });
  const flat = flatten(params);
  // Both paths build their trees like the params (see paramsOver), hence the params' type.
  type Typed = CompiledOptimizer<S, P>;
  try {
    return compiled(tx as GradientTransformation<unknown>, flat, options, threads) as unknown as Typed;
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    return pure(tx, flat, options, e.message) as unknown as Typed;
  }
}

/** The pure path behind the same interface. */
function pure<S>(
  tx: GradientTransformation<S>,
  flat: Flat,
  options: CompileOptions<S>,
  reason: string,
): CompiledOptimizer<S> {
  let params: PyTree = paramsOver(
    flat,
    flat.leaves.map((leaf) => new (ctorOf(leaf))(dataOf(leaf))),
  );
  let state = options.state !== undefined ? options.state : tx.init(params);
  const grads = zerosTree(flat);
  let disposed = false;
  return {
    get params() {
      return params;
    },
    grads,
    step(g = grads) {
      if (disposed) throw new GradTxError("BAD_STATE", "compile: this optimizer was disposed");
      const [u, next] = tx.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
    },
    state: () => state,
    backend: "pure",
    reason,
    threads: 1,
    dispose() {
      disposed = true;
    },
  };
}

function compiled(
  tx: GradientTransformation<unknown>,
  flat: Flat,
  options: CompileOptions,
  threads: number,
): CompiledOptimizer {
  const leaves = flat.leaves.map(dataOf);
  let views: FloatArray[][] = [];
  const program = plan(tx, { params: flat, view: (role) => views[role]! });

  // One buffer per (role, leaf), 16-byte aligned, in one memory that never grows.
  const offsets: number[][] = [];
  let bytes = 0;
  for (let role = 0; role < program.roles; role++)
    offsets.push(
      leaves.map((leaf) => {
        const at = bytes;
        bytes += align16(leaf.length * SIZE[dtypeOf(leaf)]);
        return at;
      }),
    );
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  if (pages > 65536) throw new Unsupported(`the buffers need ${bytes} bytes, more than WebAssembly's 4 GiB`);
  const pool = threads > 1 ? workerThreads() : undefined;
  if (threads > 1 && pool === undefined) throw new Unsupported("worker threads are not available on this host");
  const shared = threads > 1;
  const memory = new wasm.Memory({ initial: pages, maximum: pages, shared });
  views = offsets.map((row) =>
    row.map((at, i) => new (leaves[i]!.constructor as typeof Float32Array)(memory.buffer, at, leaves[i]!.length)),
  );
  views[PARAMS]!.forEach((view, i) => view.set(leaves[i]!));
  if (options.state !== undefined) program.root.restore(options.state);
  else
    // The initial state is tx.init(params): zeros and counts of 0, with the slow weights as the params.
    program.root.restore(tx.init(paramsOver(flat, views[PARAMS]!)));

  const dtypes = [...new Set(leaves.map(dtypeOf))];
  const bytesOfModule = moduleBytes(
    dtypes.flatMap((d) => kernels(program, d)),
    pages,
    shared,
  );
  const module = new wasm.Module(bytesOfModule);
  const exports = new wasm.Instance(module, { env: { memory } }).exports;

  // The step's scalars, in one (shared) array that each call's argument list copies from; the
  // per-leaf ones (a masked weight decay) are written into the argument lists once, here.
  const scalars = new Float64Array(
    shared ? new SharedArrayBuffer(8 * program.slots) : new ArrayBuffer(8 * program.slots),
  );
  const perLeaf = new Set<number>();
  const ops = [...program.pre, ...program.post];
  for (const op of ops) if (op.t === "decay") perLeaf.add(op.slot);
  const slots = [...Array(program.slots).keys()].filter((slot) => !perLeaf.has(slot));
  const first = program.roles + 1;

  // Job kinds: 0 the step, 1 the sync step, 2 + i the norm before the clip at pre[i]. Each thread
  // gets its ranges of every leaf as kernel calls with their own argument lists, reused at every
  // step and passed with Reflect.apply, so that a step allocates nothing.
  const kinds = ["step", "sync", ...program.pre.map((_, i) => `norm${i}`)];
  // Neighbouring leaves whose buffers touch in every role (same dtype, no padding between them,
  // the same per-leaf scalars) run as one range: a kernel does not care where a leaf ends, and
  // 1,000 leaves of 1,000 then cost a few calls instead of a thousand.
  const joins = (a: number, b: number) =>
    dtypeOf(leaves[a]!) === dtypeOf(leaves[b]!) &&
    offsets[GRAD]![a]! + leaves[a]!.length * SIZE[dtypeOf(leaves[a]!)] === offsets[GRAD]![b]! &&
    ops.every((op) => op.t !== "decay" || op.perLeaf[a] === op.perLeaf[b]);
  const lengths = leaves.map((leaf) => leaf.length);
  const parts = split(lengths, threads, MIN_SPLIT).map((ranges) => coalesce(ranges, lengths, joins));
  const tasks = parts.map((ranges) =>
    kinds.map((kind) =>
      ranges.map(([leaf, start, length]): Task => {
        const size = SIZE[dtypeOf(leaves[leaf]!)];
        const args = [
          ...offsets.map((row) => row[leaf]! + start * size),
          length,
          ...Array<number>(program.slots).fill(0),
        ];
        for (const op of ops) if (op.t === "decay") args[first + op.slot] = op.perLeaf[leaf]!;
        return { fn: `${kind}_${dtypeOf(leaves[leaf]!)}`, args };
      }),
    ),
  );
  const workers =
    tasks.length > 1 ? startPool(pool!, { module, memory, tasks: tasks.slice(1), scalars, slots, first }) : null;
  /** Runs a job on every thread (this one included) and returns the sum of the calls' results. */
  const run = (kind: number): number => {
    workers?.start(kind);
    const own = runTasks(exports, tasks[0]![kind]!, scalars, slots, first);
    return own + (workers?.wait() ?? 0);
  };

  const gradViews = views[GRAD]!;
  const gradTree = paramsOver(flat, gradViews);
  const paramTree = paramsOver(flat, views[PARAMS]!);

  const step = (grads: PyTree = gradTree) => {
    if (disposed) throw new GradTxError("BAD_STATE", "compile: this optimizer was disposed");
    if (grads !== gradTree) {
      const g = flatten(grads);
      assertSameStructure(flat, g);
      g.leaves.forEach((leaf, i) => gradViews[i]!.set(dataOf(leaf)));
    }
    for (let i = 0; i < program.pre.length; i++) setScalars(program.pre[i]!, i);
    const { core } = program;
    if (core?.t === "adam") {
      const t = (core.counter.count = increment(core.counter.count));
      // Slots: 1 - b1^t, 1 - b2^t, 1 - b1^(t+1), then their reciprocals.
      setCorrection(core.slot, biasCorrection(core.b1, t));
      setCorrection(core.slot + 1, biasCorrection(core.b2, t));
      setCorrection(core.slot + 2, biasCorrection(core.b1, increment(t)));
    }
    for (const op of program.post) setScalars(op, -1);
    if (program.folded !== null && core?.t === "adam") fold(program.folded, core);
    const la = program.lookahead;
    let sync = false;
    if (la !== null) {
      la.counter.count = increment(la.counter.count);
      sync = la.counter.count % la.syncPeriod === 0;
    }
    run(sync ? 1 : 0);
    if (la !== null && sync && la.reset) for (const c of la.innerCounters) c.count = 0;
  };

  const setCorrection = (slot: number, c: number) => {
    scalars[slot] = c;
    scalars[slot + 3] = 1 / c;
  };

  /** This step's factor of a scaling operation (1 for a weight decay, which is never folded). */
  const factor = (op: Op): number =>
    op.t === "scale" ? op.step : op.t === "clip" ? scalars[op.slot + 2]! : op.t === "schedule" ? scalars[op.slot]! : 1;

  /** The float32 kernel's folded coefficients (see plan.ts, foldedAdam), from this step's scalars. */
  const fold = (slot: number, core: Extract<Program["core"], { t: "adam" }>) => {
    let s = 1;
    for (const op of program.pre) s *= factor(op);
    let f = 1;
    for (const op of program.post) f *= factor(op);
    const a1 = 1 - core.b1;
    scalars[slot] = a1 * s;
    scalars[slot + 1] = (1 - core.b2) * s * s;
    scalars[slot + 2] = core.nesterov ? (f * core.b1) / scalars[core.slot + 2]! : f / scalars[core.slot]!;
    scalars[slot + 3] = (f * a1 * s) / scalars[core.slot]!;
  };

  /** Sets the scalars of one stream operation for this step (a clip measures its input's norm). */
  const setScalars = (op: Op, index: number) => {
    if (op.t === "schedule") {
      scalars[op.slot] = op.schedule(op.counter.count);
      op.counter.count = increment(op.counter.count);
    } else if (op.t === "clip") {
      scalars.fill(1, op.slot, op.slot + 3);
      const sum = run(2 + index);
      const norm = Number.isFinite(sum)
        ? Math.sqrt(sum)
        : globalNormOf(streamInJs(program.pre.slice(0, index), gradViews, views[PARAMS]!, scalars));
      if (!(norm < op.maxNorm)) {
        scalars[op.slot] = norm;
        scalars[op.slot + 1] = op.maxNorm;
        scalars[op.slot + 2] = op.maxNorm / norm;
      }
    }
  };

  let disposed = false;
  return {
    params: paramTree,
    grads: gradTree,
    step,
    state: () => program.root.snapshot(),
    backend: "wasm",
    reason: undefined,
    threads,
    dispose() {
      disposed = true;
      workers?.close();
    },
  };
}

/** A tree shaped like the params over `data` (ndarray leaves stay ndarrays). */
function paramsOver(flat: Flat, data: readonly FloatArray[]): PyTree {
  return unflatten(
    flat.def,
    flat.leaves.map((leaf, i) => asLeafLike(leaf, data[i]!)),
  );
}

/**
 * The stream before a clip, computed in JavaScript into fresh float64 arrays: only for a norm
 * whose sum of squares overflowed, which `globalNormOf` then rescales.
 */
function streamInJs(
  ops: readonly Op[],
  grads: readonly FloatArray[],
  paramViews: readonly FloatArray[],
  scalars: Float64Array,
): Float64Array[] {
  return grads.map((g, i) => {
    const x = Float64Array.from(g);
    const p = paramViews[i]!;
    for (const op of ops)
      for (let j = 0; j < x.length; j++) {
        if (op.t === "scale") x[j] = op.step * x[j]!;
        else if (op.t === "decay") x[j] = x[j]! + op.perLeaf[i]! * p[j]!;
        else if (op.t === "clip") x[j] = (x[j]! / scalars[op.slot]!) * scalars[op.slot + 1]!;
        else x[j] = scalars[op.slot]! * x[j]!;
      }
    return x;
  });
}
