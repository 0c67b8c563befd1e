// A Web Worker running its share: the pool of compile, started on a page, with one split call
// of x + 1 per step. The worker's done counter says how many segments it ran itself.
import { MIN_SPLIT, startPool, threadHost } from "../../src/kernels/threads.js";
import { add, input } from "../../src/kernels/expr.js";
import { PAGE, passModule } from "../../src/kernels/wasm.js";

export async function probePool(pause) {
  const n = 2 * MIN_SPLIT;
  const tableBytes = 1 << 16;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((4 * n + tableBytes) / PAGE),
    maximum: 1024,
    shared: true,
  });
  const x = new Float32Array(memory.buffer, 0, n).fill(1);
  const bytes = passModule(
    { dtype: "f32", buffers: ["x"], scalars: [], stores: [{ buffer: "x", value: add(input("x"), 1) }], reductions: [] },
    true,
  );
  const code = { module: new WebAssembly.Module(bytes), bytes };
  // No URL: the worker.js next to the bundle, found as compile finds it by default.
  const host = threadHost(undefined);
  if (host === undefined) return { error: "no thread host on an isolated page" };
  let control;
  const pool = startPool(
    (init, failed) => ((control = init.control), host(init, failed)),
    memory,
    2,
    { at: 4 * n, bytes: tableBytes },
    0,
    (module) => new WebAssembly.Instance(module, { env: { memory } }).exports,
  );
  try {
    for (let tries = 0; Atomics.load(control, 5) === 0 && tries < 100; tries++) await pause();
    const started = Atomics.load(control, 5) === 1;
    for (let step = 0; step < 3; step++) {
      pool.queue(code, [0, n], 1, 4, 0, n);
      pool.flush();
    }
    return { started, workerSegments: Atomics.load(control, 1), correct: x.every((v) => v === 4) };
  } finally {
    pool.close();
  }
}
