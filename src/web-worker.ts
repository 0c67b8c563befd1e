/**
 * The Web Worker a threaded `compile` starts in a browser when it is given no `worker` URL: the
 * script `gradtx/worker`, found next to this module through `import.meta.url`.
 *
 * It is written as `new Worker(new URL("./worker.js", import.meta.url), { type: "module" })`, the
 * form bundlers that handle workers (webpack 5, Vite, Parcel) recognise, so that they emit the
 * worker script with its imports. Served unbundled (from the package's `dist/`), the URL is the
 * package's own `worker.js`; bundled by a tool that leaves `import.meta.url` as the bundle's URL
 * (esbuild's ESM output), it is `worker.js` next to the bundle. In a bundle with no module URL
 * (an IIFE or a script) there is no default, and `compile` runs on one thread.
 *
 * A module URL exists only in ECMAScript modules: the CommonJS build replaces this file with
 * `web-worker.cjs`, which has no default.
 *
 * @module
 */

/** A Web Worker, as the thread pool starts, feeds and watches it. */
export interface WebWorkerLike {
  postMessage(message: unknown): void;
  addEventListener(type: "error", listener: () => void): void;
  terminate(): unknown;
}

/** The Web Worker constructor (the DOM types are not in this package's compilation). */
declare const Worker: new (url: URL, options: { type: "module" }) => WebWorkerLike;

/** Starts a module Web Worker on the `worker.js` next to this module, or says there is none. */
export function startDefaultWorker(): WebWorkerLike | undefined {
  if (!defaultWorkerExists()) return undefined;
  // @ts-ignore -- TS1343: the CommonJS build compiles this line too, then replaces the file
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
}

/** Whether this module has a URL that a worker script can be found next to. */
export function defaultWorkerExists(): boolean {
  try {
    // @ts-ignore -- TS1343, as above
    return typeof Worker === "function" && new URL("./worker.js", import.meta.url).protocol !== "";
  } catch {
    return false;
  }
}
