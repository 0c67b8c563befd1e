// A comparison point for npm run bench: the time of one TensorFlow.js Adam step,
//   optimizer.applyGradients({ [variable name]: gradient })
// with tf.train.adam(1e-3, 0.9, 0.999, 1e-8), float32 params held as tf.variables and Adam's
// state (m, v and the beta powers) held by the optimizer, all inside the backend: nothing is
// copied between JavaScript and the backend during a step. It answers "what would the same
// update cost in TF.js?", for the same leaf shapes and gradients as gradtx's benchmark.
//
// - backend "wasm": @tensorflow/tfjs-backend-wasm, single-threaded SIMD (the build that loads in
//   Node: the backend disables its threaded build there). Its .wasm files are read from the
//   package's own dist directory, so nothing is fetched.
// - backend "cpu": @tensorflow/tfjs-backend-cpu, plain JavaScript kernels.
// Both run their kernels synchronously, so when applyGradients returns the step is complete and
// step() needs no read-back. Each step runs in tf.tidy (applyGradients' own), so the number of
// live tensors is the same before and after a step.
//
//   const { step, dispose, backend } = await tfjsAdam("wasm", [1e6], [gradient]);
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";

/** The version of @tensorflow/tfjs-core (the backends are pinned to the same version). */
export const tfjsVersion = tf.version_core;

/** Makes the variable names of each tfjsAdam call unique, as TF.js registers them globally. */
let instances = 0;

/**
 * Sets up one TF.js Adam optimizer over zero-initialised float32 params of the given leaf lengths.
 *
 * @param {"wasm" | "cpu"} backend the TF.js backend to run on
 * @param {number[]} leafLengths the length of each leaf
 * @param {Float32Array[]} grads the gradient of each leaf, the same at every step
 * @returns {Promise<{ step: () => void, dispose: () => void, backend: string }>} step() runs one
 *   Adam step and returns once it is computed; dispose() frees the params, state and gradients
 */
export async function tfjsAdam(backend, leafLengths, grads) {
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const require = createRequire(import.meta.url);
    const simd = require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm");
    wasm.setWasmPaths(path.dirname(simd) + path.sep);
  } else if (backend === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu");
  } else {
    throw new Error(`tfjsAdam: backend must be "wasm" or "cpu", not ${JSON.stringify(backend)}`);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjsAdam: the TF.js ${backend} backend failed to initialise`);
  await tf.ready();
  if (leafLengths.length !== grads.length) throw new Error("tfjsAdam: one gradient per leaf");

  const id = instances++;
  const params = leafLengths.map((length, i) => {
    if (grads[i].length !== length) throw new Error(`tfjsAdam: leaf ${i}: ${length} params, ${grads[i].length} grads`);
    return tf.tidy(() => tf.variable(tf.zeros([length], "float32"), true, `tfjsAdam${id}/p${i}`, "float32"));
  });
  const gradients = grads.map((g) => tf.tensor1d(g, "float32"));
  /** Built once: applyGradients pairs each name with its m and v by position, so the key order must not change. */
  const gradientMap = Object.fromEntries(params.map((p, i) => [p.name, gradients[i]]));
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);

  return {
    step() {
      optimizer.applyGradients(gradientMap);
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([...params, ...gradients]);
    },
    backend: tf.getBackend(),
  };
}
