/**
 * The script each Web Worker of a threaded {@link compile} runs in a browser: it waits for the
 * pool's first message and then serves the pool's work until the pool ends it. It runs as a
 * module worker, so serve it from the page's own origin (bundled into one file, or as it is from
 * the package's `dist/` with its imports). `compile` finds it by itself next to gradtx's module
 * (see {@link CompileOptions.worker}); where it cannot, give its URL as the `worker` option.
 *
 * Node needs none of this: there, `compile` starts worker threads by itself.
 *
 * @example
 * ```ts
 * import { adam, compile } from "gradtx";
 * // worker.js: a bundle of `import "gradtx/worker";`, served next to the page
 * const worker = "worker.js";
 * const run = compile(adam(1e-3), { w: new Float32Array(1 << 20) }, { threads: 2, worker });
 * // run.threads: 2 in a cross-origin isolated page, else 1
 * run.dispose();
 * ```
 * @module
 */
import { serve, type WorkerInit } from "./kernels/serve.js";

const scope = globalThis as {
  addEventListener?: (type: "message", listener: (event: { data: WorkerInit }) => void, options: object) => void;
  importScripts?: unknown;
  WorkerGlobalScope?: unknown;
};
// Only inside a worker: imported anywhere else (a page, Node), it does nothing.
if (scope.WorkerGlobalScope !== undefined && scope.addEventListener !== undefined)
  scope.addEventListener("message", (event) => serve(event.data), { once: true });
