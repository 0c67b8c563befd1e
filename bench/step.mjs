// npm run bench: the time of one full training step (the update and its application to the
// params) over float32 params of one leaf of 1e6, one leaf of 1e7, and 1,000 leaves of 1,000 (a
// plain object of 1,000 keys), for
//
// - a hand-fused, in-place Adam loop in JavaScript (one tight loop per leaf updating params, m and
//   v with optax's formulas; checked at start-up to follow gradtx's adam): the baseline; and the
//   same loop with clipByGlobalNorm(1) fused in (a norm pass first), the floor for the chain in JS;
// - TensorFlow.js's Adam on its wasm and cpu backends (bench/tfjs.mjs), state held in the backend;
// - gradtx's adam(1e-3) and chain(clipByGlobalNorm(1), lookahead(adam(1e-3))) four ways:
//     pure      [u, s] = tx.update(g, s, p); p = applyUpdates(p, u)
//     donated   [u, s] = tx.update(g, donate(s), p); p = applyUpdates(donate(p), u)
//     compiled  run = compile(tx, p); run.step()        (gradient written into run.grads)
//               run.step(g)                             (gradient copied in: "g copied")
//     2 threads compile(tx, p, { threads: 2 })
//
// Gradients are fixed seeded uniform floats in [-1, 1): their global norm is far above 1, so the
// clip acts at every step.
//
// How to read it:
// - median ms: the median over the timed steps, after a warm-up of two Lookahead periods. A
//   Lookahead sync is 1 step in 5, so the median is a non-sync step; "mean ms" is the average over
//   the same steps, and so includes the syncs (and GC pauses) in proportion.
// - x hand, x tfjs-wasm, x tfjs-cpu: the median divided by that baseline's median, measured in the
//   same process at the same size (below 1 is faster: 0.2 is five times faster).
// - Each row runs in its own child process, which measures the hand-fused loop first, then the
//   row, then TF.js wasm and cpu, with a full GC before each: every ratio compares numbers taken
//   in one process, and no row inherits a heap grown by the rows before it. The header prints the
//   load average: on a busy machine the absolute times are noisy, the ratios less so.
//
//   npm run bench              the full table (about six minutes on an idle 2-core machine)
//   npm run bench -- --quick   fewer repetitions, for a smoke run
//   npm run bench -- --json    the rows as a JSON array, each with the machine it ran on
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  donate,
  lookahead,
  tree as treeUtils,
} from "../dist/index.js";
import { tfjsAdam, tfjsVersion } from "./tfjs.mjs";

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const json = args.has("--json");

/**
 * Steps run before timing: two Lookahead periods (syncPeriod 5), so that the sync is compiled too
 * and V8 has moved the hot loops to its optimizing tier (at 1e7 that can take several steps).
 */
const WARMUP = 10;
const LR = 1e-3;
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

const sizes = [
  { name: "1 leaf of 1e6", leaves: 1, length: 1e6, steps: quick ? 10 : 60 },
  { name: "1 leaf of 1e7", leaves: 1, length: 1e7, steps: quick ? 5 : 20 },
  { name: "1,000 leaves of 1,000", leaves: 1000, length: 1000, steps: quick ? 10 : 60 },
];

/** Seeded uniform floats in [-1, 1) (mulberry32). */
function randomLeaf(length, seed) {
  const out = new Float32Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** `leaves` arrays of `length` (zeros, or seeded random), as gradtx's tree and as the leaf list. */
function makeTree(size, seed) {
  const leaves = Array.from({ length: size.leaves }, (_, i) =>
    seed === 0 ? new Float32Array(size.length) : randomLeaf(size.length, seed + i),
  );
  if (size.leaves === 1) return { tree: leaves[0], leaves };
  // Keys sort in creation order, so `leaves` is also gradtx's leaf order.
  const tree = Object.fromEntries(leaves.map((leaf, i) => [`w${String(i).padStart(4, "0")}`, leaf]));
  return { tree, leaves };
}

/** The baseline: Adam by hand over `params` (mutated), in place, one loop per leaf. */
function handFused(params, grads) {
  const ms = grads.map((g) => new Float32Array(g.length));
  const vs = grads.map((g) => new Float32Array(g.length));
  let t = 0;
  return () => {
    t++;
    const c1 = 1 - B1 ** t;
    const c2 = 1 - B2 ** t;
    for (let i = 0; i < grads.length; i++) adamInPlace(params[i], ms[i], vs[i], grads[i], c1, c2);
  };
}

/**
 * The chain's work by hand: clipByGlobalNorm(1) as optax computes it (a norm pass, then
 * (g / norm) * 1 when the norm is at least 1) fused into the same in-place Adam loop. No
 * Lookahead: its sync is one pass in five, and this row is the floor for clip + Adam in JS.
 */
function handFusedClip(params, grads) {
  const ms = grads.map((g) => new Float32Array(g.length));
  const vs = grads.map((g) => new Float32Array(g.length));
  let t = 0;
  return () => {
    t++;
    let sum = 0;
    for (const g of grads) for (let j = 0; j < g.length; j++) sum += g[j] * g[j];
    const norm = Math.sqrt(sum);
    const divisor = norm < 1 ? 1 : norm;
    const c1 = 1 - B1 ** t;
    const c2 = 1 - B2 ** t;
    for (let i = 0; i < grads.length; i++) clipAdamInPlace(params[i], ms[i], vs[i], grads[i], divisor, c1, c2);
  };
}

function clipAdamInPlace(p, m, v, g, divisor, c1, c2) {
  for (let j = 0; j < p.length; j++) {
    const x = Math.fround(g[j] / divisor);
    const mj = (1 - B1) * x + B1 * m[j];
    const vj = (1 - B2) * x * x + B2 * v[j];
    m[j] = mj;
    v[j] = vj;
    p[j] -= (LR * (mj / c1)) / (Math.sqrt(vj / c2) + EPS);
  }
}

function adamInPlace(p, m, v, g, c1, c2) {
  for (let j = 0; j < p.length; j++) {
    const x = g[j];
    const mj = (1 - B1) * x + B1 * m[j];
    const vj = (1 - B2) * x * x + B2 * v[j];
    m[j] = mj;
    v[j] = vj;
    p[j] -= (LR * (mj / c1)) / (Math.sqrt(vj / c2) + EPS);
  }
}

const optimizers = {
  adam: () => adam(LR),
  chain: () => chain(clipByGlobalNorm(1), lookahead(adam(LR))),
};
const CHAIN = "chain(clip, lookahead(adam))";

/** The rows: a name and a setup returning `{ step, dispose? }` for params (zeros) and gradients. */
const variants = [
  ["hand-fused in-place Adam (JS)", (p, g) => ({ step: handFused(p.leaves, g.leaves) })],
  [
    "TF.js wasm adam",
    (p, g) =>
      tfjsAdam(
        "wasm",
        p.leaves.map((l) => l.length),
        g.leaves,
      ),
    { tf: true },
  ],
  [
    "TF.js cpu adam",
    (p, g) =>
      tfjsAdam(
        "cpu",
        p.leaves.map((l) => l.length),
        g.leaves,
      ),
    { tf: true, slow: true },
  ],
  ["hand-fused clip + Adam (JS)", (p, g) => ({ step: handFusedClip(p.leaves, g.leaves) })],
  ...Object.entries(optimizers).flatMap(([key, make]) => {
    const name = key === "adam" ? "adam" : CHAIN;
    return [
      [`pure ${name}`, (p, g) => pure(make(), p.tree, g.tree, false)],
      [`donated ${name}`, (p, g) => pure(make(), p.tree, g.tree, true)],
      [`compiled ${name}`, (p, g) => compiled(make(), p.tree, g.tree, 1, false)],
      ...(key === "chain"
        ? [
            [`compiled ${name}, g copied`, (p, g) => compiled(make(), p.tree, g.tree, 1, true)],
            [`compiled ${name}, 2 threads`, (p, g) => compiled(make(), p.tree, g.tree, 2, false)],
          ]
        : []),
    ];
  }),
];

/** A gradtx training step on the pure path, donating the state and params when `donated`. */
function pure(tx, params, grads, donated) {
  let p = params;
  let state = tx.init(p);
  return {
    step: donated
      ? () => {
          const [u, next] = tx.update(grads, donate(state), p);
          p = applyUpdates(donate(p), u);
          state = next;
        }
      : () => {
          const [u, next] = tx.update(grads, state, p);
          p = applyUpdates(p, u);
          state = next;
        },
  };
}

/** A compiled step; the gradient is written into run.grads once, or copied in at every step. */
function compiled(tx, params, grads, threads, copied) {
  const run = compile(tx, params, { threads });
  if (run.backend !== "wasm") throw new Error(`bench: expected the compiled path, got ${run.reason}`);
  if (copied) return { step: () => run.step(grads), dispose: () => run.dispose() };
  const inPlace = run.grads instanceof Float32Array ? [run.grads] : Object.values(run.grads);
  const given = grads instanceof Float32Array ? [grads] : Object.values(grads);
  inPlace.forEach((buffer, i) => buffer.set(given[i]));
  return { step: () => run.step(), dispose: () => run.dispose() };
}

/** Warms `step` up, then times `steps` calls: median and mean in ms. */
function time(step, steps, warmup) {
  for (let i = 0; i < warmup; i++) step();
  const times = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], mean };
}

const round = (x) => Math.round(x * 1000) / 1000;

/** Times one variant at one size in this process: `{ median, mean, steps }`. */
async function measure(size, index, grads) {
  const [, setup, flags = {}] = variants[index];
  globalThis.gc?.();
  const runner = await setup(makeTree(size, 0), grads);
  // TF.js's cpu backend takes seconds per step at 1e7: a few steps say enough.
  const steps = flags.slow ? Math.max(2, Math.ceil(size.steps / 10)) : size.steps;
  const t = time(runner.step, steps, flags.slow ? 1 : WARMUP);
  runner.dispose?.();
  return { ...t, steps };
}

/** The row of variant `index` at one size, with the three baselines measured around it. */
async function row(size, index) {
  const grads = makeTree(size, 1);
  const norm = treeUtils.globalNorm(grads.tree);
  if (!(norm > 1)) throw new Error(`bench: the gradients' norm ${norm} would not trigger clipByGlobalNorm(1)`);
  const [HAND, WASM, CPU] = [0, 1, 2];
  const times = new Map();
  for (const v of [HAND, index, WASM, CPU]) if (!times.has(v)) times.set(v, await measure(size, v, grads));
  const t = times.get(index);
  const vs = (v) => round(t.median / times.get(v).median);
  return {
    size: size.name,
    variant: variants[index][0],
    medianMs: round(t.median),
    meanMs: round(t.mean),
    steps: t.steps,
    vsHand: vs(HAND),
    vsTfjsWasm: vs(WASM),
    vsTfjsCpu: vs(CPU),
    handMs: round(times.get(HAND).median),
    tfjsWasmMs: round(times.get(WASM).median),
    tfjsCpuMs: round(times.get(CPU).median),
  };
}

/** Fails loudly if the baseline or the compiled path does not compute what adam computes. */
function checkAgainstAdam() {
  const size = { leaves: 3, length: 1000 };
  const grads = makeTree(size, 1);
  const byHand = makeTree(size, 999);
  const fused = handFused(byHand.leaves, grads.leaves);
  const run = compile(adam(LR), makeTree(size, 999).tree);
  let p = makeTree(size, 999).tree;
  let s = adam(LR).init(p);
  for (let i = 0; i < 20; i++) {
    fused();
    const [u, next] = adam(LR).update(grads.tree, s, p);
    p = applyUpdates(p, u);
    s = next;
    run.step(grads.tree);
  }
  const worst = (a, b) => {
    let w = 0;
    Object.values(a).forEach((x, i) => x.forEach((v, j) => (w = Math.max(w, Math.abs(v - Object.values(b)[i][j])))));
    return w;
  };
  const hand = worst(byHand.tree, p);
  const wasm = worst(run.params, p);
  if (!(hand < 1e-6 && wasm < 1e-6))
    throw new Error(`bench: after 20 steps the hand-fused loop is ${hand} and compile ${wasm} from adam`);
}

const child = process.argv.indexOf("--child");
if (child !== -1) {
  const [s, v] = process.argv[child + 1].split(":").map(Number);
  console.log(JSON.stringify(await row(sizes[s], v)));
  process.exit(0);
}

checkAgainstAdam();
const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown cpu",
  cores: os.cpus().length,
  node: process.version,
  tfjs: tfjsVersion,
  loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  quick,
};
if (!json) {
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, TF.js ${machine.tfjs}`);
  console.log(`load average at start: ${machine.loadavg.join(", ")}${quick ? " (quick run)" : ""}`);
  console.log("step time (update + apply), float32; ratios are time / the baseline's time (below 1 is faster)\n");
}

const all = [];
const script = fileURLToPath(import.meta.url);
const w = Math.max(...variants.map(([name]) => name.length));
const cols = (...c) => [c[0].padEnd(22), c[1].padEnd(w), ...c.slice(2).map((x) => x.padStart(11))].join("  ");
if (!json) console.log(cols("params", "variant", "median ms", "mean ms", "x hand", "x tfjs-wasm", "x tfjs-cpu"));
sizes.forEach((size, s) =>
  variants.forEach((_, v) => {
    const flags = ["--expose-gc", script, "--child", `${s}:${v}`, ...(quick ? ["--quick"] : [])];
    // TF.js prints a banner on stderr; a failing child's stderr comes with its error.
    const out = execFileSync(process.execPath, flags, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const row = JSON.parse(out);
    all.push({ ...row, ...machine });
    if (!json) {
      const numbers = [row.medianMs, row.meanMs, row.vsHand, row.vsTfjsWasm, row.vsTfjsCpu];
      console.log(cols(row.size, row.variant, ...numbers.map((x) => (x < 10 ? x.toFixed(3) : x.toFixed(1)))));
    }
  }),
);
if (json) console.log(JSON.stringify(all, null, 2));
