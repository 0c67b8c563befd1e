/**
 * Running a compiled step on several cores: worker threads share the WebAssembly memory (a
 * `SharedArrayBuffer`), each instantiates the same module and runs its share of the kernel calls.
 * The main thread posts a job by bumping a generation counter and waits for the workers with
 * `Atomics.wait`; nothing is sent as a message per step.
 *
 * @module
 */

/** One kernel call: the export's name and its argument list (buffer addresses, length, scalars). */
export interface Task {
  readonly fn: string;
  readonly args: number[];
}

/**
 * Runs `tasks` after copying the step's scalars into each argument list, and returns the sum of
 * what the calls return (the partial sums of squares of a norm job). Also the body of the worker
 * loop, as source text: keep it plain JavaScript with no outside names.
 */
export function runTasks(
  exports: Record<string, unknown>,
  tasks: readonly Task[],
  scalars: Float64Array,
  slots: readonly number[],
  first: number,
): number {
  let sum = 0;
  for (let t = 0; t < tasks.length; t++) {
    const task = tasks[t]!;
    const args = task.args;
    for (let s = 0; s < slots.length; s++) args[first + slots[s]!] = scalars[slots[s]!]!;
    const out = Reflect.apply(exports[task.fn] as () => unknown, undefined, args);
    if (typeof out === "number") sum += out;
  }
  return sum;
}

/** Polls of the shared counter before a thread sleeps on it (a few tens of microseconds). */
const SPIN = 20_000;

/** The worker: instantiate, then run a job whenever the generation moves, until it is negative. */
const WORKER = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, scalars, results, tasks, slots, first, index } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const runTasks = ${runTasks.toString()};
const SPIN = ${SPIN};
let seen = 0;
for (;;) {
  // A step posts its jobs back to back (a norm, then the step): spin briefly before sleeping, so
  // that the next job rarely has to wake this thread through the kernel.
  for (let spin = 0; spin < SPIN && Atomics.load(control, 0) === seen; spin++);
  Atomics.wait(control, 0, seen);
  seen = Atomics.load(control, 0);
  if (seen < 0) break;
  results[index] = runTasks(exports, tasks[control[2]], scalars, slots, first);
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
}
`;

/** What a pool needs to start its workers. */
export interface PoolSetup {
  readonly module: object;
  readonly memory: object;
  /** Per worker, per job kind, its tasks. */
  readonly tasks: readonly (readonly (readonly Task[])[])[];
  readonly scalars: Float64Array;
  readonly slots: readonly number[];
  readonly first: number;
}

/** Worker threads that run job kinds on command. */
export interface Pool {
  /** Starts job `kind` on every worker; `wait` returns the sum of their results. */
  start(kind: number): void;
  wait(): number;
  close(): void;
}

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerThreads = {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => WorkerLike;
};

/** Node's worker_threads, where the host has them (Node 20.16+: `process.getBuiltinModule`). */
export function workerThreads(): WorkerThreads | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process;
  return proc?.getBuiltinModule?.("node:worker_threads") as WorkerThreads | undefined;
}

/** Starts one worker per entry of `setup.tasks`. */
export function startPool(threads: WorkerThreads, setup: PoolSetup): Pool {
  const control = new Int32Array(new SharedArrayBuffer(12));
  const results = new Float64Array(new SharedArrayBuffer(8 * setup.tasks.length));
  const workers = setup.tasks.map((tasks, index) => {
    const worker = new threads.Worker(WORKER, {
      eval: true,
      workerData: { ...setup, tasks, control, results, index },
    });
    // A pool nobody closes must not keep the process alive.
    worker.unref();
    return worker;
  });
  let done = 0;
  return {
    start(kind) {
      control[2] = kind;
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
      done += workers.length;
    },
    wait() {
      for (let spin = 0; spin < SPIN && Atomics.load(control, 1) < done; spin++);
      for (let d = Atomics.load(control, 1); d < done; d = Atomics.load(control, 1)) Atomics.wait(control, 1, d);
      let sum = 0;
      for (let i = 0; i < results.length; i++) sum += results[i]!;
      return sum;
    },
    close() {
      Atomics.store(control, 0, -1);
      Atomics.notify(control, 0);
      for (const worker of workers) void worker.terminate();
    },
  };
}

/**
 * Splits the leaves' elements over `parts` threads: a leaf of at least `minSplit` elements is cut
 * into `parts` ranges (at multiples of 4 elements, so vectors stay aligned); smaller leaves go
 * whole, in order, a contiguous run to each part (so that neighbours can run as one range).
 * Returns, per part, `[leaf, start, length]` triples.
 */
export function split(lengths: readonly number[], parts: number, minSplit: number): [number, number, number][][] {
  const out: [number, number, number][][] = Array.from({ length: parts }, () => []);
  const small = lengths.reduce((sum, n) => (n < minSplit ? sum + n : sum), 0);
  let placed = 0;
  lengths.forEach((n, leaf) => {
    if (n >= minSplit) {
      const chunk = Math.ceil(n / parts / 4) * 4;
      for (let p = 0, start = 0; p < parts && start < n; p++, start += chunk)
        out[p]!.push([leaf, start, Math.min(chunk, n - start)]);
    } else {
      // (Empty leaves only, when small is 0: they all go to the first part.)
      out[small === 0 ? 0 : Math.min(parts - 1, Math.floor((placed * parts) / small))]!.push([leaf, 0, n]);
      placed += n;
    }
  });
  return out;
}

/**
 * Merges ranges `[leaf, start, length]` that continue each other across a leaf boundary: the
 * first ends its leaf, the next starts the following leaf at 0, and `joins(a, a + 1)` holds.
 * The merged range keeps the first leaf's number and counts elements across both.
 */
export function coalesce(
  ranges: readonly [number, number, number][],
  lengths: readonly number[],
  joins: (a: number, b: number) => boolean,
): [number, number, number][] {
  const out: [number, number, number][] = [];
  // The open range, its last leaf, and how many elements it would hold up to that leaf's end.
  let open: { range: [number, number, number]; leaf: number; toEnd: number } | undefined;
  for (const [leaf, start, length] of ranges) {
    if (open && open.range[2] === open.toEnd && start === 0 && leaf === open.leaf + 1 && joins(open.leaf, leaf)) {
      open.range[2] += length;
      open.leaf = leaf;
      open.toEnd += lengths[leaf]!;
    } else {
      open = { range: [leaf, start, length], leaf, toEnd: lengths[leaf]! - start };
      out.push(open.range);
    }
  }
  return out;
}
