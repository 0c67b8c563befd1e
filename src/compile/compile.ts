/**
 * The compiled fast path: the executor's own plan, run on buffers that live in one WebAssembly
 * memory, in place, on one thread or several.
 *
 * @module
 */
import type { ExtraArgs, GradientTransformation } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import {
  assertSameStructure,
  asLeafLike,
  dataOf,
  flatten,
  isLeaf,
  MAX_DEPTH,
  unflatten,
  type AsPyTree,
  type Flat,
  type FloatArray,
  type PyTree,
  type PyTreeLike,
} from "../core/pytree.js";
import { checkNumber, checkTransformation, invalid, readOptions } from "../core/validate.js";
import { donate } from "../core/donate.js";
import { align16, currentBackend, withResident, type Memory, type Resident } from "../kernels/backend.js";
import { arraysIn, bytesOf, nodeOf, updateNode, type Allocator } from "../kernels/executor.js";
import { childrenOf, type Node } from "../kernels/node.js";
import { BLOCK, type Dtype } from "../kernels/pass.js";
import { startPool, threadHost, type PassExports, type Pool } from "../kernels/threads.js";
import { PAGE, wasmApi } from "../kernels/wasm.js";

/** Options of {@link compile}. @since 0.2.0 */
export interface CompileOptions<S = unknown> {
  /**
   * A state to continue from (a pure state of `tx`, e.g. from `deserializeState` or from another
   * run's `state()`). Default: `tx.init(params)`.
   */
  readonly state?: S;
  /**
   * Threads to run on, an integer >= 1: with more than one, workers share the buffers and each
   * runs its part of every leaf of at least 65,536 elements (smaller leaves go whole to one
   * thread). Needs workers and shared memory: Node's worker_threads, or in a browser Web Workers
   * in a cross-origin isolated page (see {@link CompileOptions.worker}); where there are none,
   * one thread runs and `threads` says so. `dispose()` ends them. Default 1.
   */
  readonly threads?: number;
  /**
   * In a browser, the URL of the script `gradtx/worker` (bundled, or served as it is from the
   * package's `dist/` with its imports), which each Web Worker runs as a module worker. Serve it
   * from the page's origin: a Content-Security-Policy of `script-src 'self'` allows it, where a
   * worker made from a string would need `blob:`. Node ignores it.
   *
   * Without it, the workers run the `worker.js` next to gradtx's module, found from
   * `import.meta.url`: the package's own `dist/worker.js` when gradtx is served unbundled; the
   * worker a bundler emits for `new Worker(new URL("./worker.js", import.meta.url))` (webpack 5,
   * Vite); `worker.js` next to the bundle when a bundler keeps `import.meta.url` as it is
   * (esbuild's ESM output). A bundle with no module URL (an IIFE, or the CommonJS build) has no
   * default and runs one thread. A worker whose script does not load is counted out of
   * {@link CompiledOptimizer.threads} as soon as the page hears of it.
   */
  readonly worker?:
    | string
    | {
        /** The URL as text (a `URL` has it). */
        readonly href: string;
      };
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
  /** Buffers shaped like the params for the next gradient (ndarray leaves stay ndarrays); `step()` reads them. */
  readonly grads: P;
  /**
   * One training step: `[u, s] = tx.update(grads, s, params, extra); params = applyUpdates(params, u)`
   * (`step(undefined, extra)` reads `grads`).
   */
  step(grads?: PyTree | AsPyTree<P>, extra?: ExtraArgs): void;
  /** The current state as a pure state of `tx` (fresh arrays, shares nothing with the buffers). */
  state(): S;
  /**
   * `"wasm"`: the elementwise parts run as generated WebAssembly SIMD in place; `"js"`: on a host
   * without WebAssembly SIMD, the same plan on the plain-JavaScript runner.
   */
  readonly backend: "wasm" | "js";
  /**
   * Which parts run as plain TypeScript between the compiled passes (a transformation that is not
   * elementwise, or a user's own), or `undefined` when every part is compiled.
   */
  readonly reason: string | undefined;
  /**
   * The threads a step runs on: this one and the workers not known to have failed to start (a
   * worker whose script does not load is known to have failed once the page has yielded to its
   * event loop; until a worker runs, this thread runs its share of each step).
   */
  readonly threads: number;
  /** Ends the worker threads; a step after it throws `BAD_STATE`. */
  dispose(): void;
}

const SIZE: Record<Dtype, number> = { f32: 4, f64: 8 };
const dtypeOf = (a: FloatArray): Dtype => (a instanceof Float32Array ? "f32" : "f64");

/**
 * `state` with each typed array replaced by `copy(array)` (shared arrays stay shared). A state
 * nested deeper than {@link MAX_DEPTH} levels, as every cyclic one is, is refused before the
 * stack runs out.
 */
function mapArrays(
  state: unknown,
  copy: (a: FloatArray) => FloatArray,
  seen = new Map<FloatArray, FloatArray>(),
  depth = 0,
): unknown {
  if (depth > MAX_DEPTH)
    throw new GradTxError(
      "BAD_STATE",
      `compile: the state contains itself (a cycle) or is nested deeper than ${MAX_DEPTH} levels`,
    );
  if (state instanceof Float32Array || state instanceof Float64Array) {
    let c = seen.get(state);
    if (c === undefined) seen.set(state, (c = copy(state)));
    return c;
  }
  // A state tree keeps the params' ndarray leaves as ndarrays over its own dense arrays.
  if (isLeaf(state)) return asLeafLike(state, mapArrays(dataOf(state), copy, seen, depth + 1) as FloatArray);
  if (Array.isArray(state)) return state.map((x) => mapArrays(x, copy, seen, depth + 1));
  if (typeof state === "object" && state !== null && !ArrayBuffer.isView(state)) {
    const proto: unknown = Object.getPrototypeOf(state);
    if (proto !== Object.prototype && proto !== null) return state;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(state)) out[key] = mapArrays(value, copy, seen, depth + 1);
    return out;
  }
  return state;
}

/** The names of the parts that run as plain TypeScript. */
function barriers(node: Node): string[] {
  if (node.kind === "opaque")
    return [
      node.name ??
        (node.tx.constructor === Object ? "a transformation that is not elementwise" : node.tx.constructor.name),
    ];
  return childrenOf(node).flatMap(barriers);
}

/** How many of the node's kernels reduce (each cuts a stage, and a stage may need a temporary). */
function reducingKernels(node: Node): number {
  const own = node.kind === "kernel" && node.kernel.reductions.length > 0 ? 1 : 0;
  return childrenOf(node).reduce((n, child) => n + reducingKernels(child), own);
}

/** A bump allocator over part of the memory; arrays it cannot place are ordinary ones. */
class Region {
  private next: number;
  constructor(
    private readonly memory: Memory,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.next = start;
  }
  alloc(dtype: Dtype, n: number): FloatArray {
    const bytes = align16(n * SIZE[dtype]);
    if (this.next + bytes > this.end) return dtype === "f32" ? new Float32Array(n) : new Float64Array(n);
    const at = this.next;
    this.next += bytes;
    return dtype === "f32" ? new Float32Array(this.memory.buffer, at, n) : new Float64Array(this.memory.buffer, at, n);
  }
  reset(): void {
    this.next = this.start;
  }
}

/**
 * Compiles `tx` for `params` into a fast training step: the executor's passes (one fused loop
 * per leaf, after one reduction pass per clip), run as generated WebAssembly SIMD on buffers in
 * one WebAssembly memory, in place, with the update added to the params in the same loop.
 * Nothing is allocated per step.
 *
 * Every transformation compiles: elementwise parts as generated code, anything else (a
 * transformation that needs a whole matrix, or a user's own `{ init, update }`) as plain
 * TypeScript between the compiled passes (`reason` names them); `params` and `grads` stay live
 * either way.
 *
 * Numbers: the same bits as the pure path (`tx.update` then `applyUpdates`), on any number of
 * threads.
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
 * const state = run.state(); // state[1].count = 10: a pure state of the chain, [{}, { count, slow, inner }]
 * ```
 * @since 0.2.0
 */
export function compile<S, P extends PyTree | PyTreeLike<P>>(
  tx: GradientTransformation<S>,
  params: P,
  options: CompileOptions<S> | null = {},
): CompiledOptimizer<S, P> {
  checkTransformation("compile: tx", tx);
  options = readOptions("compile", options, ["state", "threads", "worker"]);
  const requested = checkNumber("compile", "threads", options.threads ?? 1, { min: 1, max: 64, integer: true });
  const worker = options.worker;
  const workerUrl = typeof worker === "object" && worker !== null ? worker.href : worker;
  if (workerUrl !== undefined && typeof workerUrl !== "string")
    invalid("compile", "worker must be the URL of the script gradtx/worker, as a string or a URL");
  const flat = flatten(params);
  const leaves = flat.leaves.map(dataOf);
  const node = nodeOf(tx as GradientTransformation<unknown>);
  const start = options.state !== undefined ? options.state : tx.init(params);
  // A state of another transformation or tree is refused here, not at the first step.
  if (options.state !== undefined) {
    const probe = mapArrays(start, (a) => a.slice());
    tx.update(
      unflatten(
        flat.def,
        flat.leaves.map((leaf, i) =>
          asLeafLike(leaf, new (leaves[i]!.constructor as Float64ArrayConstructor)(leaves[i]!.length)),
        ),
      ),
      probe as S,
      params,
    );
  }

  const api = wasmApi;
  const host = requested > 1 ? threadHost(workerUrl) : undefined;
  const threads = api !== undefined && host !== undefined ? requested : 1;
  const shared = threads > 1;

  // One memory that never grows (views stay valid): the params, the grads, the state, the
  // updates and what a step needs for a while; the work table and the block sums for threads.
  const paramBytes = bytesOf(leaves);
  const stateBytes = bytesOf(arraysIn(start));
  const elements = leaves.reduce((n, a) => n + a.length, 0);
  const sumsBytes = align16(8 * 4 * (Math.ceil(elements / BLOCK) + leaves.length)) * (reducingKernels(node) + 1);
  const tableBytes = shared ? 1 << 20 : 0;
  // The tables of leaves a call runs on this thread (see entryWords): a few hundred entries.
  const batchBytes = 1 << 16;
  const keepBytes = 2 * paramBytes + stateBytes + 2 * paramBytes;
  const stepBytes = (reducingKernels(node) + 2) * 2 * paramBytes;
  const total = keepBytes + stepBytes + sumsBytes + tableBytes + batchBytes + 64;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  if (api !== undefined && pages > 65536)
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `compile: the buffers need ${total} bytes, more than WebAssembly's 4 GiB`,
    );

  let memory: Memory | undefined;
  let resident: Resident | undefined;
  let pool: Pool | undefined;
  let keep: Region | undefined;
  let scratch: Region | undefined;
  if (api !== undefined) {
    memory = new api.Memory({ initial: pages, maximum: pages, shared });
    const sumsAt = keepBytes + stepBytes;
    const tableAt = sumsAt + sumsBytes;
    keep = new Region(memory, 0, keepBytes);
    scratch = new Region(memory, keepBytes, sumsAt);
    const mem = memory;
    if (shared)
      pool = startPool(host!, mem, threads, { at: tableAt, bytes: tableBytes }, sumsBytes, (module) => {
        const instance = new api.Instance(module, { env: { memory: mem } });
        return instance.exports as unknown as PassExports;
      });
    const table = new Int32Array(mem.buffer, tableAt + tableBytes, batchBytes / 4);
    resident = { memory: mem, buffer: mem.buffer, results: sumsAt, resultBytes: sumsBytes, pool, table, tableUsed: 0 };
  }
  const place = (a: FloatArray): FloatArray => {
    const view =
      keep === undefined
        ? a instanceof Float32Array
          ? new Float32Array(a.length)
          : new Float64Array(a.length)
        : keep.alloc(dtypeOf(a), a.length);
    view.set(a);
    return view;
  };
  const alloc: Allocator = (dtype, n, kept) => {
    if (keep === undefined || scratch === undefined) return dtype === "f32" ? new Float32Array(n) : new Float64Array(n);
    return kept ? keep.alloc(dtype, n) : scratch.alloc(dtype, n);
  };

  const paramViews = leaves.map(place);
  const gradViews = leaves.map((a) => place(new (a.constructor as Float64ArrayConstructor)(a.length)));
  const paramTree = over(flat, paramViews);
  const gradTree = over(flat, gradViews);
  // The executor may take these trees as they are: compile built them, and they never change.
  const trees = { updates: flatten(gradTree), params: flatten(paramTree) };
  let state = mapArrays(start, place);
  let disposed = false;

  const run = <T>(body: () => T): T => (resident === undefined ? body() : withResident(resident, body));
  const step = (grads: PyTree = gradTree, extra?: ExtraArgs) => {
    if (disposed) throw new GradTxError("BAD_STATE", "compile: this optimizer was disposed");
    if (grads !== gradTree) {
      const g = flatten(grads);
      assertSameStructure(flat, g);
      g.leaves.forEach((leaf, i) => gradViews[i]!.set(dataOf(leaf)));
    }
    scratch?.reset();
    const [, next] = run(() =>
      updateNode(node, gradTree, donate(state), paramTree, { alloc, apply: true, flat: trees, extra }),
    );
    state = next;
  };

  const parts = barriers(node);
  return {
    params: paramTree as P,
    grads: gradTree as P,
    step,
    state: () => mapArrays(state, (a) => a.slice()) as S,
    backend: currentBackend(),
    reason:
      parts.length === 0 ? undefined : `runs as plain TypeScript between the compiled passes: ${parts.join(", ")}`,
    get threads() {
      return pool?.threads ?? 1;
    },
    dispose() {
      disposed = true;
      pool?.close();
    },
  };
}

/** A tree shaped like the params over `data` (ndarray leaves stay ndarrays). */
function over(flat: Flat, data: readonly FloatArray[]): PyTree {
  return unflatten(
    flat.def,
    flat.leaves.map((leaf, i) => asLeafLike(leaf, data[i]!)),
  );
}
