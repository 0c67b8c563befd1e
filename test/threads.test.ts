/** The worker pool: how work reaches the threads, and what happens before a worker runs. */
import { describe, expect, it } from "vitest";
import {
  MIN_SPLIT,
  startPool,
  threadHost,
  type PassCode,
  type PassExports,
  type ThreadHost,
} from "../src/kernels/threads.js";
import type { WorkerInit } from "../src/kernels/serve.js";
import * as e from "../src/kernels/expr.js";
import { PAGE, passModule, wasmApi } from "../src/kernels/wasm.js";

const api = wasmApi!;
const n = 2 * MIN_SPLIT; // split over two threads, at a block boundary
const tableBytes = 1 << 16;

/** A shared memory with `n` float32 elements of x = 1 at byte 0, and the work table after them. */
function setup() {
  const memory = new api.Memory({ initial: Math.ceil((4 * n + tableBytes) / PAGE), maximum: 1024, shared: true });
  const x = new Float32Array(memory.buffer, 0, n).fill(1);
  const bytes = passModule(
    {
      dtype: "f32",
      buffers: ["x"],
      scalars: [],
      stores: [{ buffer: "x", value: e.add(e.input("x"), 1) }],
      reductions: [],
    },
    true,
  );
  const code: PassCode = { module: new api.Module(bytes), bytes };
  const instantiate = (module: object) =>
    new api.Instance(module, { env: { memory } }).exports as unknown as PassExports;
  return { memory, x, code, instantiate, table: { at: 4 * n, bytes: tableBytes } };
}

describe("the worker pool", () => {
  it("runs a split call on two threads: x + 1 everywhere, once", () => {
    const { memory, x, code, instantiate, table } = setup();
    const pool = startPool(threadHost(undefined)!, memory, 2, table, 0, instantiate);
    try {
      for (let step = 1; step <= 3; step++) {
        pool.queue(code, [0, n], 1, 4, 0, n);
        pool.flush();
        expect(x.every((v) => v === 1 + step)).toBe(true);
      }
    } finally {
      pool.close();
    }
  });

  it("runs a worker's share on the calling thread while that worker has not started, and hands over once it has", () => {
    const { memory, x, code, instantiate, table } = setup();
    const node = threadHost(undefined)!;
    let pending: WorkerInit | undefined;
    // A host whose worker starts only when the test says so, as a browser's starts only once
    // the page yields to its event loop.
    const late: ThreadHost = (init) => {
      pending = init;
      return { terminate: () => started?.terminate() };
    };
    let started: { terminate(): unknown } | undefined;
    const pool = startPool(late, memory, 2, table, 0, instantiate);
    try {
      pool.queue(code, [0, n], 1, 4, 0, n);
      pool.flush(); // returns: the calling thread ran both halves
      expect(x.every((v) => v === 2)).toBe(true);
      started = node(pending!, () => {});
      const control = pending!.control;
      const deadline = Date.now() + 10_000;
      while (Atomics.load(control, 5) === 0 && Date.now() < deadline) Atomics.wait(control, 5, 0, 10);
      expect(Atomics.load(control, 5)).toBe(1); // the worker runs
      for (let step = 2; step <= 4; step++) {
        pool.queue(code, [0, n], 1, 4, 0, n);
        pool.flush();
        expect(x.every((v) => v === 1 + step)).toBe(true);
      }
      expect(Atomics.load(control, 1)).toBe(3); // the worker ran its half of the last three steps
    } finally {
      pool.close();
    }
  });
  it("counts a worker that fails to start out of its threads, at once or later, and runs its share itself", async () => {
    const { memory, x, code, instantiate, table } = setup();
    const { Worker } = await import("node:worker_threads");
    // One worker refused at once, one whose script throws as it starts.
    let calls = 0;
    const failing: ThreadHost = (_init, failed) => {
      if (calls++ === 0) {
        failed();
        failed(); // told twice, counted once
        return { terminate() {} };
      }
      const worker = new Worker("throw new Error('this script does not run')", { eval: true });
      worker.on("error", failed);
      return worker;
    };
    const pool = startPool(failing, memory, 3, table, 0, instantiate);
    try {
      expect(pool.threads).toBe(2);
      const deadline = Date.now() + 10_000;
      while (pool.threads > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(pool.threads).toBe(1);
      for (let step = 1; step <= 2; step++) {
        pool.queue(code, [0, n], 1, 4, 0, n);
        pool.flush();
        expect(x.every((v) => v === 1 + step)).toBe(true);
      }
    } finally {
      pool.close();
    }
  });
});
