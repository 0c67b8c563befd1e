// The test page: runs the problem with the bundled package build, and a pool check that shows
// a Web Worker running its share on the shared memory, then publishes what it found. The
// compiled paths run three ways: with no worker URL (compile finds worker.js next to this
// bundle through import.meta.url), with the URL given, and with a URL that does not load.
import * as gradtx from "gradtx";
import { runPaths } from "./problem.mjs";
import { probePool } from "./pool.mjs";

const pause = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const result = { isolated: globalThis.crossOriginIsolated === true };
  result.paths = await runPaths(gradtx, {}, pause);
  result.given = await runPaths(gradtx, { worker: "worker.js" }, pause);
  // Long enough a pause for the page to hear that the script is not there.
  result.missing = await runPaths(gradtx, { worker: "missing-worker.js" }, () => pause(500));
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
