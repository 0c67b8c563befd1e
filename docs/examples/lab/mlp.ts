/**
 * A 784-64-10 MLP on the 10,000 real MNIST digits shipped by the `mnist` package, with its
 * gradients written out by hand (no autodiff library): the lab's real-data workload. Any gradtx
 * optimizer trains it through `train`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { applyUpdates, GradTxError, slowParams, type GradientTransformation } from "gradtx";

const PIXELS = 784;
const HIDDEN = 64;
const CLASSES = 10;
/** Training digits (the other 2,000 of the 10,000 are the test set). */
export const TRAIN = 8000;

/** The MLP's params: two dense layers, row-major weights `[in][out]`. */
export interface Params {
  readonly layers: readonly [Layer, Layer];
}
interface Layer {
  readonly w: Float32Array;
  readonly b: Float32Array;
}

/** mulberry32: a small, fast, seeded PRNG, so every run splits and initializes the same way. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** All digits of the `mnist` package: 784 pixels in [0, 1] per image, with labels. */
function loadDigits(): { images: Float32Array; labels: Uint8Array } {
  const root = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  const perDigit = Array.from({ length: CLASSES }, (_, d) => {
    const { data } = JSON.parse(readFileSync(join(root, "src", "digits", `${d}.json`), "utf8")) as { data: number[] };
    return data;
  });
  const count = perDigit.reduce((n, data) => n + data.length / PIXELS, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  perDigit.forEach((data, digit) => {
    images.set(data, at * PIXELS);
    labels.fill(digit, at, at + data.length / PIXELS);
    at += data.length / PIXELS;
  });
  return { images, labels };
}

/** He initialization (variance 2 / fan-in) for ReLU layers, biases at zero. */
function initParams(random: () => number): Params {
  const layer = (fanIn: number, fanOut: number): Layer => {
    const w = new Float32Array(fanIn * fanOut);
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < w.length; i += 2) {
      // Box-Muller: two standard normals from two uniforms.
      const r = Math.sqrt(-2 * Math.log(1 - random()));
      const theta = 2 * Math.PI * random();
      w[i] = std * r * Math.cos(theta);
      if (i + 1 < w.length) w[i + 1] = std * r * Math.sin(theta);
    }
    return { w, b: new Float32Array(fanOut) };
  };
  return { layers: [layer(PIXELS, HIDDEN), layer(HIDDEN, CLASSES)] };
}

/** `out[r][c] = bias[c] + sum_k x[r][k] w[k][c]`, in i-k-j order so the inner loop is contiguous. */
function dense(x: Float32Array, rows: number, { w, b }: Layer, inputs: number, outputs: number): Float32Array {
  const out = new Float32Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    const o = r * outputs;
    out.set(b, o);
    for (let k = 0; k < inputs; k++) {
      const xk = x[r * inputs + k]!;
      if (xk === 0) continue; // MNIST is mostly background, and ReLU zeros half the hidden units
      const wk = k * outputs;
      for (let c = 0; c < outputs; c++) out[o + c]! += xk * w[wk + c]!;
    }
  }
  return out;
}

/** Softmax of each row of logits, in place; returns the summed cross-entropy of the labels. */
function softmaxCrossEntropy(logits: Float32Array, rows: number, labels: Uint8Array, offset: number): number {
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * CLASSES;
    let max = -Infinity;
    for (let c = 0; c < CLASSES; c++) max = Math.max(max, logits[o + c]!);
    let sum = 0;
    for (let c = 0; c < CLASSES; c++) sum += logits[o + c] = Math.exp(logits[o + c]! - max);
    for (let c = 0; c < CLASSES; c++) logits[o + c]! /= sum;
    loss -= Math.log(Math.max(logits[o + labels[offset + r]!]!, 1e-30));
  }
  return loss;
}

/** Mean cross-entropy over a batch and its gradient, by reverse mode written out by hand. */
function lossAndGrads(params: Params, x: Float32Array, labels: Uint8Array, offset: number, rows: number) {
  const [first, second] = params.layers;
  // Forward: h = relu(x W1 + b1), p = softmax(h W2 + b2).
  const h = dense(x, rows, first, PIXELS, HIDDEN);
  for (let i = 0; i < h.length; i++) if (h[i]! < 0) h[i] = 0;
  const p = dense(h, rows, second, HIDDEN, CLASSES);
  const loss = softmaxCrossEntropy(p, rows, labels, offset) / rows;

  // Backward. For softmax + cross-entropy, dL/dlogits = (p - onehot) / rows.
  const dLogits = p;
  for (let r = 0; r < rows; r++) dLogits[r * CLASSES + labels[offset + r]!]! -= 1;
  for (let i = 0; i < dLogits.length; i++) dLogits[i]! /= rows;
  // Second layer: dW2 = h^T dLogits, db2 = column sums, dh = dLogits W2^T masked by relu.
  const dW2 = new Float32Array(HIDDEN * CLASSES);
  const db2 = new Float32Array(CLASSES);
  const dh = new Float32Array(rows * HIDDEN);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < CLASSES; c++) db2[c]! += dLogits[r * CLASSES + c]!;
    for (let k = 0; k < HIDDEN; k++) {
      const hk = h[r * HIDDEN + k]!;
      if (hk === 0) continue; // relu'(0) = 0: nothing flows back through an inactive unit
      let flow = 0;
      for (let c = 0; c < CLASSES; c++) {
        const d = dLogits[r * CLASSES + c]!;
        dW2[k * CLASSES + c]! += hk * d;
        flow += d * second.w[k * CLASSES + c]!;
      }
      dh[r * HIDDEN + k] = flow;
    }
  }
  // First layer: dW1 = x^T dh, db1 = column sums (no gradient needed for the pixels).
  const dW1 = new Float32Array(PIXELS * HIDDEN);
  const db1 = new Float32Array(HIDDEN);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < HIDDEN; c++) db1[c]! += dh[r * HIDDEN + c]!;
    for (let k = 0; k < PIXELS; k++) {
      const xk = x[r * PIXELS + k]!;
      if (xk === 0) continue;
      const row = k * HIDDEN;
      for (let c = 0; c < HIDDEN; c++) dW1[row + c]! += xk * dh[r * HIDDEN + c]!;
    }
  }
  const grads: Params = {
    layers: [
      { w: dW1, b: db1 },
      { w: dW2, b: db2 },
    ],
  };
  return { loss, grads };
}

/** Fraction of images whose largest logit is their label. */
function accuracy(params: Params, images: Float32Array, labels: Uint8Array): number {
  const rows = labels.length;
  const [first, second] = params.layers;
  const h = dense(images, rows, first, PIXELS, HIDDEN);
  for (let i = 0; i < h.length; i++) if (h[i]! < 0) h[i] = 0;
  const logits = dense(h, rows, second, HIDDEN, CLASSES);
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (logits[r * CLASSES + c]! > logits[r * CLASSES + best]!) best = c;
    if (best === labels[r]) correct++;
  }
  return correct / rows;
}

/** A progress bar on stderr: redrawn in place on a terminal, a few plain lines otherwise. */
export function progress(label: string, total: number): { tick(done: number, note: string): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let lastQuarter = 0;
  return {
    tick(done, note) {
      if (tty) {
        const width = 30;
        const filled = Math.round((width * done) / total);
        process.stderr.write(
          `\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${note}  `,
        );
      } else if (done >= (total * (lastQuarter + 1)) / 4) {
        lastQuarter++;
        process.stderr.write(`${label} ${Math.round((100 * done) / total)}% ${note}\n`);
      }
    },
    end() {
      if (tty) process.stderr.write("\r\x1b[2K");
    },
  };
}

/** The digits split 8,000 train / 2,000 test by a shuffle with a fixed seed. */
export interface Split {
  readonly train: { readonly x: Float32Array; readonly y: Uint8Array };
  readonly test: { readonly x: Float32Array; readonly y: Uint8Array };
}

let cached: Split | undefined;

/** Loads the digits once and splits them with the seed 20190719. */
export function mnistSplit(): Split {
  if (cached) return cached;
  const random = prng(20190719);
  const { images, labels } = loadDigits();
  const order = Array.from({ length: labels.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const gather = (indices: number[]) => {
    const x = new Float32Array(indices.length * PIXELS);
    const y = new Uint8Array(indices.length);
    indices.forEach((index, row) => {
      x.set(images.subarray(index * PIXELS, (index + 1) * PIXELS), row * PIXELS);
      y[row] = labels[index]!;
    });
    return { x, y };
  };
  cached = { train: gather(order.slice(0, TRAIN)), test: gather(order.slice(TRAIN)) };
  return cached;
}

/** What a training run reports. */
export interface TrainResult {
  /** Mean training loss of each epoch. */
  readonly trainLoss: number[];
  /** Training loss every `logEvery` steps (a running mean over those steps). */
  readonly curve: { step: number; loss: number }[];
  /** Test accuracy of the params the loop trained (Lookahead's fast weights). */
  readonly testAccuracy: number;
  /** Test accuracy of Lookahead's slow weights (the params themselves without Lookahead). */
  readonly slowTestAccuracy: number;
}

/** Options of {@link train}. */
export interface TrainOptions {
  readonly epochs: number;
  readonly batch: number;
  /** Seeds the initialization and the batch order. */
  readonly seed: number;
  readonly label?: string;
  /** Steps per point of the loss curve. Default: about 40 points over the run. */
  readonly logEvery?: number;
}

/** Trains a fresh MLP with `optimizer` and evaluates it. */
export function train(optimizer: GradientTransformation, options: TrainOptions): TrainResult {
  const { train: data, test } = mnistSplit();
  const random = prng(options.seed);
  let params: Params = initParams(random);
  let state = optimizer.init(params);
  const batches = Math.floor(TRAIN / options.batch);
  const batchX = new Float32Array(options.batch * PIXELS);
  const batchY = new Uint8Array(options.batch);
  const trainLoss: number[] = [];
  const curve: { step: number; loss: number }[] = [];
  const logEvery = options.logEvery ?? Math.max(1, Math.round((options.epochs * batches) / 40));
  let window = 0;
  let step = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const perm = Array.from({ length: TRAIN }, (_, i) => i);
    for (let i = TRAIN - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const bar = progress(`${options.label ?? "training"} epoch ${epoch}/${options.epochs}`, batches);
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      for (let r = 0; r < options.batch; r++) {
        const index = perm[b * options.batch + r]!;
        batchX.set(data.x.subarray(index * PIXELS, (index + 1) * PIXELS), r * PIXELS);
        batchY[r] = data.y[index]!;
      }
      const { loss, grads } = lossAndGrads(params, batchX, batchY, 0, options.batch);
      const [updates, next] = optimizer.update(grads, state, params);
      params = applyUpdates(params, updates);
      state = next;
      lossSum += loss;
      window += loss;
      if (++step % logEvery === 0) {
        curve.push({ step, loss: window / logEvery });
        window = 0;
      }
      bar.tick(b + 1, `loss ${(lossSum / (b + 1)).toFixed(4)}`);
    }
    bar.end();
    trainLoss.push(lossSum / batches);
  }
  let slow: Params = params;
  try {
    slow = slowParams<Params>(state);
  } catch (e) {
    // Not a Lookahead optimizer: its params are its only weights.
    if (!(e instanceof GradTxError)) throw e;
  }
  return {
    trainLoss,
    curve,
    testAccuracy: accuracy(params, test.x, test.y),
    slowTestAccuracy: accuracy(slow, test.x, test.y),
  };
}
