// The test page: runs the problem with the bundled package build, and a pool check that shows
// a Web Worker running its share on the shared memory, then publishes what it found.
import * as gradtx from "gradtx";
import { runPaths } from "./problem.mjs";
import { probePool } from "./pool.mjs";

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

async function main() {
  const result = { isolated: globalThis.crossOriginIsolated === true };
  result.paths = await runPaths(gradtx, { worker: "worker.js" }, pause);
  result.pool = result.isolated ? await probePool(pause) : "not isolated";
  return result;
}

// A string compiled as code, as ndarray-ops does: blocked (and reported) under the page's CSP.
globalThis.probeEval = () => {
  try {
    return new Function("return 'allowed'")();
  } catch (error) {
    return `blocked: ${error.name}`;
  }
};

main().then(
  (result) => (globalThis.testResult = result),
  (error) => (globalThis.testResult = { error: String(error?.stack ?? error) }),
);
