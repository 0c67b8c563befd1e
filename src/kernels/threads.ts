/**
 * Threads for passes over a shared WebAssembly memory: worker threads that instantiate the same
 * generated modules on the same memory and run their share of each queued call.
 *
 * A call over `n` elements splits at block boundaries (so that every block's sums are the same
 * whichever thread computes them, and the totals do not depend on the number of threads); short
 * calls go whole to the least loaded thread. The calling thread runs a share too. Work is handed
 * over through a table in the shared memory and a generation counter: no messages per step, only
 * one per module, the first time a module runs.
 *
 * @module
 */
import { BLOCK } from "./pass.js";
import type { Memory } from "./backend.js";

/** Calls at least this long are split over the threads; shorter ones go whole to one thread. */
export const MIN_SPLIT = 65536;

/** Polls of the shared counter before a thread sleeps on it (a few tens of microseconds). */
const SPIN = 20_000;

/** The worker: run a generation's table segment whenever the generation moves, until it is negative. */
const WORKER = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { memory, control, port, index, tableAt, tableLength } = workerData;
const fns = [];
let seen = 0;
for (;;) {
  for (let spin = 0; spin < ${SPIN} && Atomics.load(control, 0) === seen; spin++);
  Atomics.wait(control, 0, seen);
  seen = Atomics.load(control, 0);
  if (seen < 0) break;
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port))
    fns[m.message.id] = new WebAssembly.Instance(m.message.module, { env: { memory } }).exports.run;
  const table = new Float64Array(memory.buffer, tableAt, tableLength);
  for (let o = control[2 + 2 * index], end = control[3 + 2 * index]; o < end; ) {
    const argc = table[o + 1];
    Reflect.apply(fns[table[o]], undefined, Array.from(table.subarray(o + 2, o + 2 + argc)));
    o += 2 + argc;
  }
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
}
`;

/** Worker threads sharing one memory. */
export interface Pool {
  readonly threads: number;
  /** Reserves bytes of the sums region for a call queued before the next reset. */
  reserve(bytes: number): number;
  /**
   * Queues `run(...args)` of `module` over `n` elements (args are copied: `buffers` addresses,
   * `n`, the scalars, then the sums address when it reduces), split over the threads.
   */
  queue(module: object, args: readonly number[], buffers: number, size: number, reductions: number, n: number): void;
  /** Runs what is queued on every thread and waits for it. */
  flush(): void;
  /** Frees the sums region (after its sums were read). */
  reset(): void;
  /** Ends the workers. */
  close(): void;
}

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
}
interface PortLike {
  postMessage(message: unknown): void;
}
type WorkerThreads = {
  Worker: new (
    code: string,
    options: { eval: true; workerData: unknown; transferList: readonly unknown[] },
  ) => WorkerLike;
  MessageChannel: new () => { port1: PortLike; port2: unknown };
};

/** Node's worker_threads, where the host has them (Node 20.16+: `process.getBuiltinModule`). */
export function workerThreads(): WorkerThreads | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process;
  return proc?.getBuiltinModule?.("node:worker_threads") as WorkerThreads | undefined;
}

/** One call for one thread: a module, its arguments, and its length. */
interface Item {
  readonly module: object;
  readonly args: number[];
}

/**
 * Starts `threads - 1` workers on `memory` (shared), with the work table at byte `tableAt` of
 * `tableBytes`; `instantiate` gives this thread's function for a module.
 */
export function startPool(
  api: WorkerThreads,
  memory: Memory,
  threads: number,
  table: { readonly at: number; readonly bytes: number },
  sumsBytes: number,
  instantiate: (module: object) => (...args: number[]) => void,
): Pool {
  const control = new Int32Array(new SharedArrayBuffer(4 * (2 + 2 * threads)));
  const tableLength = table.bytes / 8;
  const ports: PortLike[] = [];
  const workers = Array.from({ length: threads - 1 }, (_, w) => {
    const channel = new api.MessageChannel();
    ports.push(channel.port1);
    const worker = new api.Worker(WORKER, {
      eval: true,
      workerData: { memory, control, port: channel.port2, index: w, tableAt: table.at, tableLength },
      transferList: [channel.port2],
    });
    // A pool nobody closes must not keep the process alive.
    worker.unref();
    return worker;
  });
  const ids = new Map<object, number>();
  const own = new Map<object, (...args: number[]) => void>();
  const queues: Item[][] = Array.from({ length: threads }, () => []);
  const load = new Array<number>(threads).fill(0);
  let reserved = 0;
  let done = 0;
  let queuedArgs = 0;

  const idOf = (module: object): number => {
    let id = ids.get(module);
    if (id === undefined) {
      ids.set(module, (id = ids.size));
      for (const port of ports) port.postMessage({ id, module });
    }
    return id;
  };

  const pool: Pool = {
    threads,
    reserve(bytes) {
      const at = reserved;
      reserved += Math.ceil(bytes / 16) * 16;
      if (reserved > sumsBytes) throw new Error("the resident sums region is too small for this step");
      return at;
    },
    queue(module, args, buffers, size, reductions, n) {
      idOf(module);
      if (queuedArgs + threads * (args.length + 2) > tableLength) pool.flush();
      queuedArgs += threads * (args.length + 2);
      if (n < MIN_SPLIT) {
        let least = 0;
        for (let t = 1; t < threads; t++) if (load[t]! < load[least]!) least = t;
        queues[least]!.push({ module, args: args.slice() });
        load[least]! += n;
        return;
      }
      const chunk = Math.ceil(n / threads / BLOCK) * BLOCK;
      for (let t = 0, start = 0; t < threads && start < n; t++, start += chunk) {
        const part = args.slice();
        for (let k = 0; k < buffers; k++) part[k] = args[k]! + start * size;
        part[buffers] = Math.min(chunk, n - start);
        if (reductions > 0) part[part.length - 1] = args[args.length - 1]! + 8 * reductions * (start / BLOCK);
        queues[t]!.push({ module, args: part });
        load[t]! += part[buffers]!;
      }
    },
    flush() {
      if (queues.every((q) => q.length === 0)) return;
      const view = new Float64Array(memory.buffer, table.at, tableLength);
      let o = 0;
      for (let w = 0; w < workers.length; w++) {
        control[2 + 2 * w] = o;
        for (const item of queues[w + 1]!) {
          view[o] = idOf(item.module);
          view[o + 1] = item.args.length;
          view.set(item.args, o + 2);
          o += 2 + item.args.length;
        }
        control[3 + 2 * w] = o;
      }
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
      done += workers.length;
      for (const item of queues[0]!) {
        let run = own.get(item.module);
        if (run === undefined) own.set(item.module, (run = instantiate(item.module)));
        Reflect.apply(run, undefined, item.args);
      }
      for (let spin = 0; spin < SPIN && Atomics.load(control, 1) < done; spin++);
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
