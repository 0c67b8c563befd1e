/**
 * Choosing how a pass runs over JavaScript arrays: streamed through WebAssembly SIMD (each chunk
 * copied into a fixed scratch area, run, and copied out), or, on hosts without WebAssembly SIMD,
 * by the plain-JavaScript runner. Both give the same bits; a compiled optimizer runs the same
 * generated code on buffers that live in WebAssembly memory (see `compile`).
 *
 * @module
 */
import { jsRunner, type PassArray, type PassRunner } from "./js.js";
import { BLOCK, passKey, type Pass } from "./pass.js";
import { PAGE, passModule, wasmApi, type WasmApi } from "./wasm.js";

/** Which runner passes over JavaScript arrays use. */
export type Backend = "wasm" | "js";

let backend: Backend = wasmApi !== undefined ? "wasm" : "js";

/** The backend in use: `"wasm"` where the host has WebAssembly SIMD, else `"js"`. */
export function currentBackend(): Backend {
  return backend;
}

/**
 * Runs `body` with passes on `which` backend (tests use this to hold the two to the same bits).
 * `"wasm"` on a host without WebAssembly SIMD throws.
 */
export function withBackend<T>(which: Backend, body: () => T): T {
  if (which === "wasm" && wasmApi === undefined) throw new Error("this host has no WebAssembly SIMD");
  const before = backend;
  backend = which;
  try {
    return body();
  } finally {
    backend = before;
  }
}

const jsRunners = new Map<string, PassRunner>();
const wasmRunners = new Map<string, PassRunner>();

/** The runner of `pass` on the current backend (cached by what the pass computes). */
export function runnerOf(pass: Pass): PassRunner {
  const key = passKey(pass);
  const cache = backend === "wasm" ? wasmRunners : jsRunners;
  let runner = cache.get(key);
  if (runner === undefined) {
    runner = backend === "wasm" ? streamRunner(pass, wasmApi!) : jsRunner(pass);
    cache.set(key, runner);
  }
  return runner;
}

/** Elements per streamed chunk: a few scratch buffers of it stay in a core's cache. */
const CHUNK = 4 * BLOCK;

/** The scratch memory every streamed pass shares (one pass runs at a time). */
interface Scratch {
  memory: InstanceType<WasmApi["Memory"]>;
  f32: Float32Array;
  f64: Float64Array;
}
let scratch: Scratch | undefined;

/** The scratch memory, grown to at least `bytes`. */
function scratchOf(api: WasmApi, bytes: number): Scratch {
  const pages = Math.ceil(bytes / PAGE);
  if (scratch === undefined) {
    const memory = new api.Memory({ initial: pages });
    scratch = { memory, f32: new Float32Array(memory.buffer), f64: new Float64Array(memory.buffer) };
  } else if (scratch.memory.buffer.byteLength < bytes) {
    scratch.memory.grow(pages - scratch.memory.buffer.byteLength / PAGE);
  }
  if (scratch.f64.buffer !== scratch.memory.buffer) {
    scratch.f32 = new Float32Array(scratch.memory.buffer);
    scratch.f64 = new Float64Array(scratch.memory.buffer);
  }
  return scratch;
}

/**
 * A runner that streams JavaScript arrays through the generated WebAssembly: buffer `k` of a
 * chunk lives at `k * CHUNK` elements of scratch, the reductions' sums after the buffers.
 */
function streamRunner(pass: Pass, api: WasmApi): PassRunner {
  const reads = new Set<string>();
  const visit = (e: object): void => {
    const node = e as { op: string; name?: string; a?: object; b?: object; cond?: object };
    if (node.op === "input") reads.add(node.name!);
    for (const child of [node.a, node.b, node.cond]) if (child !== undefined) visit(child);
  };
  pass.stores.forEach((s) => visit(s.value));
  pass.reductions.forEach((r) => (visit(r.a), visit(r.b)));
  const inputs = pass.buffers.flatMap((name, k) => (reads.has(name) ? [k] : []));
  const outputs = pass.buffers.flatMap((name, k) => (pass.stores.some((s) => s.buffer === name) ? [k] : []));
  const size = pass.dtype === "f32" ? 4 : 8;
  const slot = CHUNK * 8;
  const resultsAt = pass.buffers.length * slot;
  const bytes = resultsAt + 8 * Math.max(1, pass.reductions.length);
  const module = new api.Module(passModule(pass, false));
  let instanceMemory: Scratch["memory"] | undefined;
  let run: (...args: number[]) => void = () => undefined;
  const args = new Array<number>(pass.buffers.length + 1 + pass.scalars.length + (pass.reductions.length > 0 ? 1 : 0));
  pass.buffers.forEach((_, k) => (args[k] = k * slot));
  if (pass.reductions.length > 0) args[args.length - 1] = resultsAt;
  const reduces = pass.reductions.length > 0;

  return (arrays, start, n, scalars, results, resultAt = 0) => {
    const s = scratchOf(api, bytes);
    if (instanceMemory !== s.memory) {
      instanceMemory = s.memory;
      const instance = new api.Instance(module, { env: { memory: s.memory } });
      run = instance.exports.run as (...a: number[]) => void;
    }
    const view: PassArray = pass.dtype === "f32" ? s.f32 : s.f64;
    const per = slot / size;
    for (let k = 0; k < pass.scalars.length; k++) args[pass.buffers.length + 1 + k] = scalars[k]!;
    const chunk = reduces ? BLOCK : CHUNK;
    for (let from = 0; from < n; from += chunk) {
      const len = Math.min(chunk, n - from);
      const at = start + from;
      for (const k of inputs) view.set(arrays[k]!.subarray(at, at + len), k * per);
      args[pass.buffers.length] = len;
      run(...args);
      for (const k of outputs) arrays[k]!.set(view.subarray(k * per, k * per + len), at);
      if (reduces) for (let r = 0; r < pass.reductions.length; r++) results![resultAt + r] = s.f64[resultsAt / 8 + r]!;
    }
  };
}
