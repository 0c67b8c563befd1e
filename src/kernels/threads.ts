/**
 * Threads for passes over a shared WebAssembly memory: workers that instantiate the same
 * generated modules on the same memory and run their share of each queued call.
 *
 * A call over `n` elements splits at block boundaries (so that every block's sums are the same
 * whichever thread computes them, and the totals do not depend on the number of threads); short
 * calls go whole to the least loaded thread. The calling thread runs a share too. Work is handed
 * over through a table in the shared memory and a generation counter, and each module's bytes
 * through a shared module area, the first time it runs: no messages at all once the workers run
 * (see `serve.ts`, the loop every worker runs).
 *
 * What differs between hosts is only how a worker starts ({@link threadHost}) and whether the
 * calling thread may block: a page's main thread may not (`Atomics.wait` throws there), so it
 * polls the done counter instead. A browser worker starts only once the page's thread returns to
 * its event loop; until a worker runs, the calling thread claims its segments and runs them
 * itself, so a step never waits for a worker that has not started.
 *
 * @module
 */
import { BLOCK } from "./pass.js";
import type { Memory } from "./backend.js";
import { serve, type WorkerInit } from "./serve.js";
import { defaultWorkerExists, startDefaultWorker, type WebWorkerLike } from "../web-worker.js";

/** Calls at least this long are split over the threads; shorter ones go whole to one thread. */
export const MIN_SPLIT = 65536;

/** Polls of the shared counter before a thread sleeps on it (a few tens of microseconds). */
const SPIN = 20_000;

/** Bytes of the shared module area: a pass module is a few kilobytes. */
const MODULE_BYTES = 1 << 20;

/** Most modules the area lists. */
const MAX_MODULES = 4096;

/** A generated module, compiled for this thread, and its bytes, for the workers to compile. */
export interface PassCode {
  readonly module: object;
  readonly bytes: Uint8Array;
}

/** Workers sharing one memory. */
export interface Pool {
  /** The calling thread and the workers not known to have failed to start. */
  readonly threads: number;
  /** Reserves bytes of the sums region for a call queued before the next reset. */
  reserve(bytes: number): number;
  /**
   * Queues `run(...args)` of `code` over `n` elements (args are copied: `buffers` addresses,
   * `n`, the scalars, then the sums address when it reduces), split over the threads.
   */
  queue(code: PassCode, args: readonly number[], buffers: number, size: number, reductions: number, n: number): void;
  /**
   * Queues `runs(...args)` of `code` (a table address, its entry count, the scalars: see
   * `entryWords`) on thread `thread` (0 is this one), `n` elements of work; with `own`,
   * `runsOwn(table, count)`, whose entries carry their scalars (see `ownEntryWords`).
   */
  queueRuns(code: PassCode, args: readonly number[], thread: number, n: number, own?: boolean): void;
  /** How many threads work is queued for: this one and every worker started. */
  readonly lanes: number;
  /** Runs what is queued on every thread and waits for it. */
  flush(): void;
  /** Frees the sums region (after its sums were read). */
  reset(): void;
  /** Ends the workers. */
  close(): void;
}

/** A started worker, as the pool ends it. */
interface WorkerLike {
  terminate(): unknown;
}

/**
 * How a host starts a worker that runs {@link serve} with `init`; it calls `failed` if the worker
 * does not start (its script does not load, or it throws), now or later.
 */
export type ThreadHost = (init: WorkerInit, failed: () => void) => WorkerLike;

type NodeWorkerThreads = {
  Worker: new (
    code: string,
    options: { eval: true; workerData: unknown },
  ) => WorkerLike & { unref(): void; on(event: "error", listener: () => void): void };
};
type WebWorker = new (url: string, options: { type: "module" }) => WebWorkerLike;

/**
 * How this host starts workers, if it can: Node's worker_threads (Node 20.16+, through
 * `process.getBuiltinModule`), running `serve`'s source; or, in a cross-origin isolated page or
 * worker (where shared memory exists), Web Workers on `workerUrl`, the script `gradtx/worker`,
 * or without one on the `worker.js` next to this package's module (see `web-worker.ts`).
 */
export function threadHost(workerUrl: string | undefined): ThreadHost | undefined {
  const scope = globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
    Worker?: WebWorker;
    crossOriginIsolated?: boolean;
  };
  const node = scope.process?.getBuiltinModule?.("node:worker_threads") as NodeWorkerThreads | undefined;
  if (node !== undefined) {
    const code = `(${serve.toString()})(require("node:worker_threads").workerData)`;
    return (init, failed) => {
      const worker = new node.Worker(code, { eval: true, workerData: init });
      worker.on("error", failed);
      // A pool nobody closes must not keep the process alive.
      worker.unref();
      return worker;
    };
  }
  const Web = scope.Worker;
  if (Web === undefined || scope.crossOriginIsolated !== true || typeof SharedArrayBuffer !== "function")
    return undefined;
  if (workerUrl === undefined && !defaultWorkerExists()) return undefined;
  return (init, failed) => {
    let worker: WebWorkerLike | undefined;
    try {
      worker = workerUrl === undefined ? startDefaultWorker() : new Web(workerUrl, { type: "module" });
    } catch {
      // A worker the page's policy refuses at once.
    }
    if (worker === undefined) {
      failed();
      return { terminate() {} };
    }
    worker.addEventListener("error", failed);
    worker.postMessage(init);
    return worker;
  };
}

/** Whether this thread may block in `Atomics.wait` (a page's main thread may not). */
function canBlock(control: Int32Array): boolean {
  try {
    Atomics.wait(control, 0, -1, 0);
    return true;
  } catch {
    return false;
  }
}

/** One call for one thread: a module and its arguments. */
interface Item {
  readonly code: PassCode;
  readonly args: number[];
  /** Which function the item calls: `run` (0), `runs` (1, a table of leaves) or `runsOwn` (2). */
  readonly call: 0 | 1 | 2;
}

/** A module's functions, as a thread instantiates them. */
export interface PassExports {
  readonly run: (...args: number[]) => void;
  readonly runs: (...args: number[]) => void;
  readonly runsOwn: (...args: number[]) => void;
}

/** The function of `exports` an item calls. */
const callOf = (exports: PassExports, call: Item["call"]) =>
  call === 0 ? exports.run : call === 1 ? exports.runs : exports.runsOwn;

/**
 * Starts `threads - 1` workers on `memory` (shared), with the work table at byte `table.at` of
 * `table.bytes`; `instantiate` gives this thread's function for a module.
 */
export function startPool(
  host: ThreadHost,
  memory: Memory,
  threads: number,
  table: { readonly at: number; readonly bytes: number },
  sumsBytes: number,
  instantiate: (module: object) => PassExports,
): Pool {
  const control = new Int32Array(new SharedArrayBuffer(4 * (2 + 4 * threads)));
  const modules = new Int32Array(new SharedArrayBuffer(MODULE_BYTES));
  modules[0] = 4 * (1 + 2 * MAX_MODULES);
  const tableLength = table.bytes / 8;
  const blocking = canBlock(control);
  let failed = 0;
  // A worker that fails to start never claims a segment: this thread runs its share (below).
  const workers = Array.from({ length: threads - 1 }, (_, index) => {
    let counted = false;
    return host({ memory, control, modules, index, tableAt: table.at, tableLength, spin: SPIN }, () => {
      if (!counted) failed++;
      counted = true;
    });
  });
  // A module's id in the module area, or -1 where the area is full (this thread then runs it).
  const ids = new Map<PassCode, number>();
  const own = new Map<object, PassExports>();
  const queues: Item[][] = Array.from({ length: threads }, () => []);
  const load = new Array<number>(threads).fill(0);
  let reserved = 0;
  let done = 0;
  let queuedArgs = 0;

  const idOf = (code: PassCode): number => {
    let id = ids.get(code);
    if (id === undefined) {
      const at = modules[0]!;
      id = ids.size < MAX_MODULES && at + code.bytes.length <= MODULE_BYTES ? ids.size : -1;
      if (id >= 0) {
        new Uint8Array(modules.buffer, at, code.bytes.length).set(code.bytes);
        modules[1 + 2 * id] = at;
        modules[2 + 2 * id] = code.bytes.length;
        modules[0] = Math.ceil((at + code.bytes.length) / 8) * 8;
      }
      ids.set(code, id);
    }
    return id;
  };
  const runHere = (items: readonly Item[]): void => {
    for (const item of items) {
      let exports = own.get(item.code.module);
      if (exports === undefined) own.set(item.code.module, (exports = instantiate(item.code.module)));
      Reflect.apply(callOf(exports, item.call), undefined, item.args);
    }
  };

  const pool: Pool = {
    get threads() {
      return threads - failed;
    },
    lanes: threads,
    reserve(bytes) {
      const at = reserved;
      reserved += Math.ceil(bytes / 16) * 16;
      if (reserved > sumsBytes) throw new Error("the resident sums region is too small for this step");
      return at;
    },
    queue(code, args, buffers, size, reductions, n) {
      if (queuedArgs + threads * (args.length + 2) > tableLength) pool.flush();
      queuedArgs += threads * (args.length + 2);
      if (idOf(code) < 0) {
        queues[0]!.push({ code, args: args.slice(), call: 0 });
        load[0]! += n;
        return;
      }
      if (n < MIN_SPLIT) {
        let least = 0;
        for (let t = 1; t < threads; t++) if (load[t]! < load[least]!) least = t;
        queues[least]!.push({ code, args: args.slice(), call: 0 });
        load[least]! += n;
        return;
      }
      const chunk = Math.ceil(n / threads / BLOCK) * BLOCK;
      for (let t = 0, start = 0; t < threads && start < n; t++, start += chunk) {
        const part = args.slice();
        for (let k = 0; k < buffers; k++) part[k] = args[k]! + start * size;
        part[buffers] = Math.min(chunk, n - start);
        if (reductions > 0) part[part.length - 1] = args[args.length - 1]! + 8 * reductions * (start / BLOCK);
        queues[t]!.push({ code, args: part, call: 0 });
        load[t]! += part[buffers]!;
      }
    },
    queueRuns(code, args, thread, n, own = false) {
      if (queuedArgs + args.length + 2 > tableLength) pool.flush();
      queuedArgs += args.length + 2;
      const t = idOf(code) < 0 ? 0 : thread;
      queues[t]!.push({ code, args: args.slice(), call: own ? 2 : 1 });
      load[t]! += n;
    },
    flush() {
      if (queues.every((q) => q.length === 0)) return;
      const view = new Float64Array(memory.buffer, table.at, tableLength);
      const generation = control[0] === 0x7fffffff ? 1 : control[0]! + 1;
      let o = 0;
      for (let w = 0; w < workers.length; w++) {
        const base = 2 + 4 * w;
        control[base] = o;
        for (const item of queues[w + 1]!) {
          // The module's id, tripled, plus the function it calls (see `Item`).
          view[o] = 3 * idOf(item.code) + item.call;
          view[o + 1] = item.args.length;
          view.set(item.args, o + 2);
          o += 2 + item.args.length;
        }
        control[base + 1] = o;
        control[base + 2] = generation;
      }
      Atomics.store(control, 0, generation);
      Atomics.notify(control, 0);
      runHere(queues[0]!);
      // A worker that has not started yet (a browser's, before the page yields) gets no work:
      // this thread claims its segment and runs it. Any other worker's segment is its own.
      for (let w = 0; w < workers.length; w++) {
        const base = 2 + 4 * w;
        if (
          Atomics.load(control, base + 3) === 0 &&
          Atomics.compareExchange(control, base + 2, generation, -generation) === generation
        )
          runHere(queues[w + 1]!);
        else done++;
      }
      for (let spin = 0; (spin < SPIN || !blocking) && Atomics.load(control, 1) < done; spin++);
      for (let d = Atomics.load(control, 1); d < done; d = Atomics.load(control, 1)) Atomics.wait(control, 1, d);
      queues.forEach((q) => (q.length = 0));
      load.fill(0);
      queuedArgs = 0;
    },
    reset() {
      reserved = 0;
    },
    close() {
      Atomics.store(control, 0, -1);
      Atomics.notify(control, 0);
      for (const worker of workers) void worker.terminate();
    },
  };
  return pool;
}
