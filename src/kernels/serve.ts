/**
 * The loop a worker thread runs, the same on every host: Node's worker threads run its source
 * (`serve.toString()`), a browser's Web Workers load it as `gradtx/worker`. It must stay
 * self-contained (no imports, no names from outside its body), because Node runs it as text.
 *
 * Everything it needs arrives through shared memory, never through messages once it runs: a
 * browser worker cannot take a message while it blocks in `Atomics.wait`, so the generated
 * modules' bytes sit in a shared module area, and each worker compiles a module the first time
 * a queued call names it.
 *
 * The control words (an `Int32Array` over a `SharedArrayBuffer`):
 *
 * - `[0]`: the generation; the pool moves it to publish work, and sets it to -1 to end the workers;
 * - `[1]`: how many workers' segments are done;
 * - `[2 + 4w ...]`, for worker `w`: its table segment's start and end, its claim (the pool sets it
 *   to the generation; whoever swaps it for minus the generation runs the segment), and 1 once
 *   the worker runs.
 *
 * @module
 */

/** What a worker is given when it starts. */
export interface WorkerInit {
  /** The shared WebAssembly memory the generated code runs on. */
  readonly memory: { readonly buffer: ArrayBufferLike };
  /** The control words. */
  readonly control: Int32Array;
  /** The module area: `[0]` bytes used, then each module's byte offset and length by id. */
  readonly modules: Int32Array;
  /** Which worker this is, from 0. */
  readonly index: number;
  /** Byte address of the work table in the memory, and its length in float64 words. */
  readonly tableAt: number;
  readonly tableLength: number;
  /** Polls of the generation before sleeping on it. */
  readonly spin: number;
}

/** Runs the worker's segment of every generation, until the generation is negative. */
export function serve(init: WorkerInit): void {
  const { memory, control, modules, index, tableAt, tableLength, spin } = init;
  const wasm = (
    globalThis as unknown as {
      WebAssembly: {
        Module: new (bytes: Uint8Array) => object;
        Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
      };
    }
  ).WebAssembly;
  const base = 2 + 4 * index;
  const fns: {
    run: (...args: number[]) => void;
    runs: (...args: number[]) => void;
    runsOwn: (...args: number[]) => void;
  }[] = [];
  Atomics.store(control, base + 3, 1);
  let seen = 0;
  for (;;) {
    for (let s = 0; s < spin && Atomics.load(control, 0) === seen; s++);
    Atomics.wait(control, 0, seen);
    seen = Atomics.load(control, 0);
    if (seen < 0) break;
    // The calling thread may have run this segment itself, while this worker was starting.
    if (Atomics.compareExchange(control, base + 2, seen, -seen) !== seen) continue;
    const table = new Float64Array(memory.buffer, tableAt, tableLength);
    for (let o = control[base]!, end = control[base + 1]!; o < end;) {
      // The module's id, tripled, plus the function: 0 `run`, 1 `runs` (a table of leaves), 2
      // `runsOwn` (a table whose entries carry their scalars).
      const word = table[o]!;
      const id = Math.floor(word / 3);
      const call = word % 3;
      const argc = table[o + 1]!;
      let exports = fns[id];
      if (exports === undefined) {
        const bytes = new Uint8Array(modules.buffer, modules[1 + 2 * id]!, modules[2 + 2 * id]!).slice();
        const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
        exports = fns[id] = instance.exports as (typeof fns)[number];
      }
      Reflect.apply(
        call === 0 ? exports.run : call === 1 ? exports.runs : exports.runsOwn,
        undefined,
        Array.from(table.subarray(o + 2, o + 2 + argc)),
      );
      o += 2 + argc;
    }
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
}
