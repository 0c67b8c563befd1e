// npm run bench: the time of one full training-loop step,
//   [updates, state] = tx.update(grads, state, params); params = applyUpdates(params, updates)
// for adam(1e-3), lookahead(adam(1e-3)) and chain(clipByGlobalNorm(1), lookahead(adam(1e-3)))
// over float32 params of one leaf of 1e6, one leaf of 1e7, and 1,000 leaves of 1,000. Each is
// reported as the median over many steps and as a ratio to a hand-fused, in-place Adam loop
// (one tight loop per leaf updating params, m and v) run in the same process: the ratio is what
// purity and composition cost. Lookahead's medians include its sync steps in proportion (1 in 5).
// Each (size, variant) pair runs in a fresh child process with its own baseline, so that no
// variant inherits a heap grown by the ones measured before it.
//
//   npm run bench              the full table
//   npm run bench -- --quick   fewer repetitions, for a smoke run
//   npm run bench -- --json    the rows as JSON
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { adam, applyUpdates, chain, clipByGlobalNorm, lookahead } from "../dist/index.js";

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const json = args.has("--json");

/** Seeded uniform floats in [-1, 1): a gradient whose global norm is far above 1, so the clip acts. */
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

const sizes = [
  { name: "1 leaf of 1e6", leaves: 1, length: 1e6, steps: quick ? 10 : 60 },
  { name: "1 leaf of 1e7", leaves: 1, length: 1e7, steps: quick ? 5 : 20 },
  { name: "1,000 leaves of 1,000", leaves: 1000, length: 1000, steps: quick ? 10 : 60 },
];

function makeTree(size, seed) {
  if (size.leaves === 1) return randomLeaf(size.length, seed);
  const tree = {};
  for (let i = 0; i < size.leaves; i++) tree[`layer${String(i).padStart(4, "0")}`] = randomLeaf(size.length, seed + i);
  return tree;
}

const leavesOf = (tree) =>
  tree instanceof Float32Array
    ? [tree]
    : Object.keys(tree)
        .sort()
        .map((k) => tree[k]);

/** The baseline: Adam by hand, in place, one loop per leaf, optax's formulas. */
function handFused(size, grads) {
  const gs = leavesOf(grads);
  const ps = gs.map((g) => new Float32Array(g.length));
  const ms = gs.map((g) => new Float32Array(g.length));
  const vs = gs.map((g) => new Float32Array(g.length));
  const lr = 1e-3,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  let t = 0;
  return () => {
    t++;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < gs.length; i++) adamInPlace(ps[i], ms[i], vs[i], gs[i], lr, b1, b2, eps, c1, c2);
  };
}

function adamInPlace(p, m, v, g, lr, b1, b2, eps, c1, c2) {
  for (let j = 0; j < p.length; j++) {
    const x = g[j];
    const mj = (1 - b1) * x + b1 * m[j];
    const vj = (1 - b2) * x * x + b2 * v[j];
    m[j] = mj;
    v[j] = vj;
    p[j] -= (lr * (mj / c1)) / (Math.sqrt(vj / c2) + eps);
  }
}

/** A pure gradtx training step over fresh params. */
function pure(tx, size, grads) {
  let params = makeTree(size, 999);
  let state = tx.init(params);
  return () => {
    const [updates, next] = tx.update(grads, state, params);
    params = applyUpdates(params, updates);
    state = next;
  };
}

function median(step, steps) {
  for (let i = 0; i < 3; i++) step(); // warm up the JIT and the heap
  const times = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const variants = [
  ["hand-fused in-place Adam (baseline)", null],
  ["adam(1e-3)", () => adam(1e-3)],
  ["lookahead(adam(1e-3))", () => lookahead(adam(1e-3))],
  ["chain(clipByGlobalNorm(1), lookahead(adam(1e-3)))", () => chain(clipByGlobalNorm(1), lookahead(adam(1e-3)))],
];

/** Measures one variant and the baseline at one size, in this process. */
function measurePair(size, index) {
  const grads = makeTree(size, 1);
  const [name, build] = variants[index];
  globalThis.gc?.();
  const baseline = median(handFused(size, grads), size.steps);
  globalThis.gc?.();
  const ms = index === 0 ? baseline : median(pure(build(), size, grads), size.steps);
  return { size: size.name, variant: name, medianMs: ms, ratio: ms / baseline };
}

const child = process.argv.indexOf("--child");
if (child !== -1) {
  const [s, v] = process.argv[child + 1].split(":").map(Number);
  console.log(JSON.stringify(measurePair(sizes[s], v)));
  process.exit(0);
}

const rows = [];
const script = fileURLToPath(import.meta.url);
sizes.forEach((_, s) =>
  variants.forEach((__, v) => {
    const flags = ["--expose-gc", script, "--child", `${s}:${v}`, ...(quick ? ["--quick"] : [])];
    rows.push(JSON.parse(execFileSync(process.execPath, flags, { encoding: "utf8" })));
  }),
);

if (json) console.log(JSON.stringify(rows, null, 2));
else {
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  console.log(`${cpu}, ${os.cpus().length} cores, Node ${process.version}${quick ? " (quick run)" : ""}`);
  console.log("median step time (update + applyUpdates), float32; ratio to the hand-fused in-place loop\n");
  const w = Math.max(...rows.map((r) => r.variant.length));
  console.log(`${"params".padEnd(22)}  ${"variant".padEnd(w)}  ${"median ms".padStart(9)}  ${"ratio".padStart(6)}`);
  for (const r of rows)
    console.log(
      `${r.size.padEnd(22)}  ${r.variant.padEnd(w)}  ${r.medianMs.toFixed(2).padStart(9)}  ${r.ratio.toFixed(2).padStart(6)}`,
    );
}
