// npm run bench: one full training step (the update and its application to the params) of
// chain(clipByGlobalNorm(1), lookahead(adam(1e-3))) over float32 params, on every path, against
// two baselines measured in the same run:
//
// - the physical limit: a fused C Adam loop (bench/adam.c), built here with
//   `cc -O3 -march=native -fno-math-errno -fopenmp` and run on 1 and 2 threads. The chain's limit
//   is that time x 32/28: its norm pass reads the gradient once more (8 streams of 4 bytes where
//   Adam has 7). Without a C compiler the C columns are left out. The same loop is also built
//   with 16-byte vectors only (`-mprefer-vector-width=128`), the width WebAssembly SIMD has, and
//   printed beside the limit: where a machine's wider vectors make the loop's divisions and square
//   root cheaper, that line shows how much of the gap is the width. And the chain's own loop in
//   C (`adam clip`): the norm pass, then Adam on optax's (g / norm) * maxNorm, whose division
//   per element the x 32/28 estimate leaves out (a machine whose divider is the bound pays for
//   it); its column is the ratio to that loop, on as many threads;
// - a hand-fused JavaScript loop: clip + Adam in place, one loop per leaf (the norm pass first).
//
// Paths: pure (fresh arrays, then applyUpdates), donated (donate(state), applyUpdates(donate(p))),
// compiled (run.step() with the gradient written into run.grads) on 1 and 2 threads. The pure
// path is also shown against the time to allocate and write its fresh arrays plus the compiled
// step, measured here too: what purity costs on top of the same arithmetic.
//
// Then the coverage table: every catalogue optimizer at 1e6, compiled vs pure, with the parts
// that run as plain TypeScript between compiled passes.
//
// Sizes: one leaf of 1e7, one leaf of 1e6, 1,000 leaves of 1,000 (per element, the last should
// cost what 1e6 in one leaf costs). Times are medians of the timed steps after a warm-up of at
// least two Lookahead periods and half a second, so that every path is timed once the engine has
// optimized it; a sync step is one step in five of them.
//
//   npm run bench              the full run (a few minutes on an idle 2-core machine)
//   npm run bench -- --quick   fewer steps, for a smoke run
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as gradtx from "../dist/index.js";

const { adam, applyUpdates, chain, clipByGlobalNorm, compile, donate, lookahead } = gradtx;
const quick = process.argv.includes("--quick");
const here = path.dirname(fileURLToPath(import.meta.url));
const LR = 1e-3;
const gc = globalThis.gc ?? (() => undefined);
const WARMUP_MS = quick ? 100 : 500;

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

/** `leaves` arrays of `length`: the tree (keys sort in leaf order) and the list. */
function makeTree(leaves, length, seed) {
  const list = Array.from({ length: leaves }, (_, i) =>
    seed === 0 ? new Float32Array(length) : randomLeaf(length, seed + i),
  );
  const tree =
    leaves === 1 ? list[0] : Object.fromEntries(list.map((leaf, i) => [`w${String(i).padStart(4, "0")}`, leaf]));
  return { tree, list };
}

/**
 * The median time of `step` over `steps` calls, after a warm-up of at least `warmup` calls and
 * half a second: the engine optimizes the code of a step over its first calls, and a step over
 * 1,000 small leaves runs thousands of function calls that take about a hundred steps to settle.
 */
function median(step, steps, warmup = 10) {
  const until = performance.now() + WARMUP_MS;
  for (let i = 0; i < warmup || performance.now() < until; i++) step();
  const times = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * The C loop's median ms on `threads` threads at `n` elements, or undefined without a compiler:
 * built for this machine (the limit), or with `width: 128`, held to 16-byte vectors, the width
 * of WebAssembly SIMD, to show what the vector width alone costs where the loop is bound by its
 * arithmetic rather than by memory (its divisions and square root).
 */
const cBinaries = new Map();
function cLimit(n, threads, steps, width, mode = "adam") {
  if (!cBinaries.has(width)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gradtx-bench-"));
    const out = path.join(dir, "adam");
    const narrow = width === undefined ? [] : [`-mprefer-vector-width=${width}`];
    try {
      execFileSync(
        "cc",
        ["-O3", "-march=native", ...narrow, "-fno-math-errno", "-fopenmp", path.join(here, "adam.c"), "-o", out, "-lm"],
        { stdio: "ignore" },
      );
      cBinaries.set(width, out);
    } catch {
      cBinaries.set(width, null);
    }
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const binary = cBinaries.get(width);
  if (binary === null) return undefined;
  const args = [String(n), String(steps), String(threads), ...(mode === "clip" ? ["clip"] : [])];
  const text = execFileSync(binary, args, { encoding: "utf8" });
  return Number(text.split(" ")[0]);
}

/** Clip + Adam by hand, in place: the norm pass, then one loop per leaf. */
function handFused(params, grads) {
  const ms = grads.map((g) => new Float32Array(g.length));
  const vs = grads.map((g) => new Float32Array(g.length));
  let t = 0;
  return () => {
    t++;
    let sum = 0;
    for (const g of grads) for (let j = 0; j < g.length; j++) sum += g[j] * g[j];
    const norm = Math.sqrt(sum);
    const divisor = norm < 1 ? 1 : norm;
    const c1 = 1 - 0.9 ** t;
    const c2 = 1 - 0.999 ** t;
    for (let i = 0; i < grads.length; i++) clipAdam(params[i], ms[i], vs[i], grads[i], divisor, c1, c2);
  };
}

function clipAdam(p, m, v, g, divisor, c1, c2) {
  for (let j = 0; j < p.length; j++) {
    const x = g[j] / divisor;
    const mj = 0.1 * x + 0.9 * m[j];
    const vj = 0.001 * x * x + 0.999 * v[j];
    m[j] = mj;
    v[j] = vj;
    p[j] -= (LR * (mj / c1)) / (Math.sqrt(vj / c2) + 1e-8);
  }
}

function pureStep(tx, params, grads, donated, extra) {
  let p = params;
  let s = tx.init(p);
  return donated
    ? () => {
        const [u, next] = tx.update(grads, donate(s), p, extra);
        p = applyUpdates(donate(p), u);
        s = next;
      }
    : () => {
        const [u, next] = tx.update(grads, s, p, extra);
        p = applyUpdates(p, u);
        s = next;
      };
}

function compiledStep(tx, params, grads, threads, extra) {
  const run = compile(tx, params, { threads });
  const views = gradtx.tree.leaves(run.grads);
  gradtx.tree.leaves(grads).forEach((g, i) => views[i].set(g));
  return { step: () => run.step(undefined, extra), run };
}

/** Allocating and writing the arrays a pure step returns fresh: update, two moments, params. */
function allocation(list) {
  return () => {
    for (const leaf of list)
      for (let k = 0; k < 4; k++) {
        const a = new Float32Array(leaf.length);
        a.fill(1);
      }
  };
}

const fmt = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits));
const chainTx = () => chain(clipByGlobalNorm(1), lookahead(adam(LR)));

const sizes = [
  { name: "1 leaf of 1e7", leaves: 1, length: 1e7, steps: quick ? 5 : 20 },
  { name: "1 leaf of 1e6", leaves: 1, length: 1e6, steps: quick ? 10 : 60 },
  { name: "1,000 leaves of 1,000", leaves: 1000, length: 1000, steps: quick ? 10 : 60 },
];

console.log(
  `# gradtx bench: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, Node ${process.version}`,
);
console.log(
  `load average at start: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}\n`,
);

const perElement = {};
for (const size of sizes) {
  const n = size.leaves * size.length;
  const c1 = cLimit(n, 1, size.steps);
  const c2 = cLimit(n, 2, size.steps);
  const narrow1 = cLimit(n, 1, size.steps, 128);
  const narrow2 = cLimit(n, 2, size.steps, 128);
  const limit1 = c1 === undefined ? undefined : (c1 * 32) / 28;
  const limit2 = c2 === undefined ? undefined : (c2 * 32) / 28;
  // The chain's own loop in C: the norm pass, then Adam on (g / norm) * maxNorm, whose division
  // per element the memory-bound estimate above leaves out.
  const chain1 = cLimit(n, 1, size.steps, undefined, "clip");
  const chain2 = cLimit(n, 2, size.steps, undefined, "clip");
  const chainNarrow1 = cLimit(n, 1, size.steps, 128, "clip");
  const chainNarrow2 = cLimit(n, 2, size.steps, 128, "clip");
  const g = makeTree(size.leaves, size.length, 1);
  const rows = [];
  // Each row against the limit and the chain's C loop, as built and held to 16-byte vectors, on
  // as many threads as the row runs.
  const measure = (
    name,
    step,
    limit,
    [chainLimit, narrowLimit] = limit === undefined ? [] : [chain1, chainNarrow1],
  ) => {
    gc();
    const ms = median(step, size.steps);
    rows.push({ name, ms, limit, chainLimit, narrowLimit });
    return ms;
  };
  const hand = measure(
    "hand-fused clip + Adam (JS)",
    handFused(makeTree(size.leaves, size.length, 0).list, g.list),
    limit1,
  );
  const pure = measure("pure", pureStep(chainTx(), makeTree(size.leaves, size.length, 0).tree, g.tree, false), limit1);
  const donated = measure(
    "donated",
    pureStep(chainTx(), makeTree(size.leaves, size.length, 0).tree, g.tree, true),
    limit1,
  );
  const one = compiledStep(chainTx(), makeTree(size.leaves, size.length, 0).tree, g.tree, 1);
  const compiled1 = measure("compiled, 1 thread", one.step, limit1);
  const two = compiledStep(chainTx(), makeTree(size.leaves, size.length, 0).tree, g.tree, 2);
  const compiled2 = measure(`compiled, ${two.run.threads} threads`, two.step, limit2, [chain2, chainNarrow2]);
  two.run.dispose();
  const alloc = measure("allocate + write 4 fresh arrays", allocation(g.list), undefined);
  perElement[size.name] = {
    n,
    pure,
    donated,
    compiled1,
    compiled2,
    alloc,
    limit1,
    limit2,
    chain1,
    chain2,
    chainNarrow1,
    chainNarrow2,
  };

  console.log(`## ${size.name}, float32, ${fmt((hand / n) * 1e6, 3)} ns/element by hand`);
  console.log(
    `C Adam limit: ${fmt(c1)} ms on 1 thread, ${fmt(c2)} ms on 2 (chain limit x 32/28: ${fmt(limit1)}, ${fmt(limit2)})`,
  );
  console.log(
    `C Adam held to 16-byte vectors, as WebAssembly SIMD is: ${fmt(narrow1)} ms on 1 thread, ${fmt(narrow2)} ms on 2`,
  );
  console.log(
    `C clip + Adam, the chain's own loop (norm pass, then a division per element): ${fmt(chain1)} ms on 1 thread, ${fmt(chain2)} ms on 2; held to 16-byte vectors: ${fmt(chainNarrow1)}, ${fmt(chainNarrow2)}\n`,
  );
  const ratio = (ms, limit) => fmt(limit === undefined ? undefined : ms / limit);
  console.log("| path | median ms | x C limit | x C chain loop | x that loop at 16 bytes | x hand-fused JS |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const row of rows)
    console.log(
      `| ${row.name} | ${fmt(row.ms)} | ${ratio(row.ms, row.limit)} | ${ratio(row.ms, row.chainLimit)} | ${ratio(row.ms, row.narrowLimit)} | ${fmt(row.ms / hand)} |`,
    );
  console.log(`\npure / (allocation + compiled step): ${fmt(pure / (alloc + compiled1))}\n`);
}

const small = perElement["1,000 leaves of 1,000"];
const big = perElement["1 leaf of 1e6"];
// The ratio again, from the two sizes timed in turns (ten steps of one, ten of the other), so
// that both see the same machine: the sections above are timed half a minute apart.
const paths = {
  pure: (leaves, length) =>
    pureStep(chainTx(), makeTree(leaves, length, 0).tree, makeTree(leaves, length, 1).tree, false),
  donated: (leaves, length) =>
    pureStep(chainTx(), makeTree(leaves, length, 0).tree, makeTree(leaves, length, 1).tree, true),
  compiled1: (leaves, length) =>
    compiledStep(chainTx(), makeTree(leaves, length, 0).tree, makeTree(leaves, length, 1).tree, 1),
  compiled2: (leaves, length) =>
    compiledStep(chainTx(), makeTree(leaves, length, 0).tree, makeTree(leaves, length, 1).tree, 2),
};
/**
 * The median ms of each of `steps`, timed in turns (`perRound` calls of one, then of the next,
 * for `rounds` rounds) after a warm-up of every one, so that all of them see the same machine.
 */
function medianInTurns(steps, rounds, perRound, { warmup = 20, ms = 2 * WARMUP_MS } = {}) {
  const until = performance.now() + ms;
  for (let i = 0; i < warmup || performance.now() < until; i++) steps.forEach((step) => step());
  const times = steps.map(() => []);
  for (let round = 0; round < rounds; round++)
    steps.forEach((step, k) => {
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        step();
        times[k].push(performance.now() - t0);
      }
    });
  return times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
}

const inTurns = {};
for (const [key, make] of Object.entries(paths)) {
  gc();
  const made = [make(1, 1e6), make(1000, 1000)];
  const [one, many] = medianInTurns(
    made.map((m) => (typeof m === "function" ? m : m.step)),
    quick ? 3 : 15,
    10,
  );
  made.forEach((m) => m.run?.dispose());
  inTurns[key] = many / one;
}
console.log("## 1,000 leaves of 1,000 against one leaf of 1e6, per element\n");
console.log("| path | from the sections above | timed in turns |");
console.log("| --- | ---: | ---: |");
for (const key of ["pure", "donated", "compiled1", "compiled2"])
  console.log(`| ${key} | ${fmt(small[key] / big[key])} | ${fmt(inTurns[key])} |`);

// Every catalogue optimizer at 1e6: compiled against pure.
const catalogue = {
  sgd: () => gradtx.sgd(0.1),
  "sgd momentum": () => gradtx.sgd(0.1, { momentum: 0.9 }),
  "sgd nesterov": () => gradtx.sgd(0.1, { momentum: 0.9, nesterov: true }),
  adam: () => adam(LR),
  adamw: () => gradtx.adamw(LR),
  nadam: () => gradtx.nadam(LR),
  radam: () => gradtx.radam(LR),
  adamax: () => gradtx.adamax(LR),
  amsgrad: () => gradtx.amsgrad(LR),
  rmsprop: () => gradtx.rmsprop(LR),
  "rmsprop centered": () => gradtx.rmsprop(LR, { centered: true, momentum: 0.5 }),
  adagrad: () => gradtx.adagrad(LR),
  adadelta: () => gradtx.adadelta(),
  lion: () => gradtx.lion(LR),
  lamb: () => gradtx.lamb(LR),
  ranger: () => gradtx.ranger(LR),
  "clip, zeroNans, ema, sgd": () =>
    chain(gradtx.clipByBlockRms(1), gradtx.zeroNans(), gradtx.ema(0.9), gradtx.sgd(0.1)),
  "masked adam": () => gradtx.masked(adam(LR), () => true),
  "injectHyperparams adam": () => gradtx.injectHyperparams((h) => adam(h.lr), { lr: LR }),
  "applyIfFinite adam": () => gradtx.applyIfFinite(adam(LR), 3),
  "multiSteps sgd": () => gradtx.multiSteps(gradtx.sgd(0.1), 2),
  // The second wave: elementwise ones are kernels; the rest run as plain TypeScript (barriers),
  // which the last column names. The leaves here are flat, so muon runs its AdamW part.
  adabelief: () => gradtx.adabelief(LR),
  yogi: () => gradtx.yogi(LR),
  adan: () => gradtx.adan(LR),
  novograd: () => gradtx.novograd(LR),
  adopt: () => gradtx.adopt(LR),
  ademamix: () => gradtx.ademamix(LR),
  adamaxw: () => gradtx.adamaxw(LR),
  nadamw: () => gradtx.nadamw(LR),
  signum: () => gradtx.signum(LR),
  rprop: () => gradtx.rprop(LR),
  lars: () => gradtx.lars(LR),
  fromage: () => gradtx.fromage(LR),
  optimisticAdam: () => gradtx.optimisticAdam(LR),
  dog: () => gradtx.dog(),
  dowg: () => gradtx.dowg(),
  cocob: () => gradtx.cocob(),
  prodigy: () => gradtx.prodigy(),
  dadaptAdamw: () => gradtx.dadaptAdamw(),
  scheduleFreeAdamw: () => gradtx.scheduleFreeAdamw(LR),
  "polyakSgd (extra.value)": () => gradtx.polyakSgd(),
  "namedChain clip, adam": () => gradtx.namedChain(["clip", gradtx.clipByGlobalNorm(1)], ["adam", adam(LR)]),
  "applyEvery sgd": () => chain(gradtx.applyEvery(2), gradtx.sgd(0.1)),
  noisySgd: () => gradtx.noisySgd(0.1),
  adafactor: () => gradtx.adafactor(LR),
  sm3: () => gradtx.sm3(LR),
  muon: () => gradtx.muon(LR),
  "lbfgs, no line search": () => gradtx.lbfgs({ linesearch: null }),
  "mechanize sgd": () => gradtx.mechanize(gradtx.sgd(0.1)),
};
/** Kernels-only rows (no barrier) whose compiled step is less than 4x faster than pure. */
const slowKernels = [];
const extraOf = (name) => (name.includes("extra.value") ? { value: 1 } : undefined);
const n6 = 1e6;
const g6 = makeTree(1, n6, 7);
console.log("\n## Every catalogue optimizer at 1e6 float32: compiled against pure, with Lookahead\n");
console.log("| optimizer | pure ms | compiled ms | pure / compiled | runs as plain TypeScript |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const [name, make] of Object.entries(catalogue)) {
  const tx = () => lookahead(make());
  gc();
  // Each timed on its own, in its steady state: timed in turns, the pure step's fresh arrays
  // push the compiled step's buffers out of the caches (sgd momentum compiled: 0.15 ms alone,
  // 0.57 in turns), which measures the two steps' interference rather than either.
  const pure = median(pureStep(tx(), makeTree(1, n6, 0).tree, g6.tree, false, extraOf(name)), quick ? 5 : 20, 5);
  const { step, run } = compiledStep(tx(), makeTree(1, n6, 0).tree, g6.tree, 1, extraOf(name));
  const compiled = median(step, quick ? 5 : 20, 5);
  const reason = run.reason === undefined ? "" : run.reason.replace(/^.*: /, "");
  run.dispose();
  console.log(`| lookahead(${name}) | ${fmt(pure)} | ${fmt(compiled)} | ${fmt(pure / compiled, 1)} | ${reason} |`);
  if (reason === "" && pure / compiled < 4) slowKernels.push(`${name} ${fmt(pure / compiled, 1)}x`);
}

// The targets, judged from this run's numbers.
const top = perElement["1 leaf of 1e7"];
const verdict = (ok) => (ok === undefined ? "no C compiler" : ok ? "met" : "not met");
const against = (ms, limit, bound) => (limit === undefined ? undefined : ms / limit <= bound);
const perElementRatios = ["pure", "donated", "compiled1", "compiled2"].map((key) => [
  key,
  Math.max(small[key] / big[key], inTurns[key]),
]);
console.log("\n## The targets, from this run\n");
console.log("| target | this run | |");
console.log("| --- | --- | --- |");
const target = (name, value, ok) => console.log(`| ${name} | ${value} | ${verdict(ok)} |`);
const withChain = (ms, limit, chain, narrow) =>
  `${fmt(limit === undefined ? undefined : ms / limit)}x (${fmt(chain === undefined ? undefined : ms / chain)}x the chain's C loop, ${fmt(narrow === undefined ? undefined : ms / narrow)}x it held to 16-byte vectors)`;
target(
  "compiled, 1 thread, <= 1.4x the 1-thread limit at 1e7",
  withChain(top.compiled1, top.limit1, top.chain1, top.chainNarrow1),
  against(top.compiled1, top.limit1, 1.4),
);
target(
  "compiled, 2 threads, <= 1.4x the 2-thread limit",
  withChain(top.compiled2, top.limit2, top.chain2, top.chainNarrow2),
  against(top.compiled2, top.limit2, 1.4),
);
target(
  "donated, <= 4x the 1-thread limit",
  withChain(top.donated, top.limit1, top.chain1, top.chainNarrow1),
  against(top.donated, top.limit1, 4),
);
const purity = top.pure / (top.alloc + top.compiled1);
target("pure, <= 1.3x (allocation + compiled step)", `${fmt(purity)}x`, purity <= 1.3);
target(
  "every other kernels-only optimizer compiled >= 4x its pure path at 1e6",
  slowKernels.length === 0 ? "all" : `below: ${slowKernels.join(", ")}`,
  slowKernels.length === 0,
);
for (const [key, ratio] of perElementRatios)
  target(
    `1,000 leaves of 1,000 within 1.5x of one leaf of 1e6 per element, ${key}`,
    `${fmt(ratio)} (the larger reading)`,
    ratio <= 1.5,
  );
