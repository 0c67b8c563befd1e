// The problem the browser test runs in the page and in Node, with whichever build of gradtx it
// is handed: the same params, gradients and optimizer, run pure, donated and compiled, each path
// summed up as a hash of its params' bytes (and the bytes themselves, to show a difference).

/** Leaves long enough to be split over two threads, and small ones that go whole. */
const LENGTHS = [70_001, 3, 65_536, 17];
const STEPS = 5;

/**
 * Numbers in [-1, 1) from a seeded integer generator (mulberry32): exact on every host, where
 * `Math.sin` and friends differ between JavaScript engines (Node's and Chromium's do).
 */
function numbers(seed, n) {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  });
}

/** A tree of seeded numbers, one float32 leaf among float64 ones. */
function tree(seed) {
  return Object.fromEntries(
    LENGTHS.map((n, i) => [`l${i}`, (i === 2 ? Float32Array : Float64Array).from(numbers(1000 * seed + i, n))]),
  );
}

/** FNV-1a over the bytes of every leaf, in key order: equal hashes, equal bits. */
export function hashOf(params) {
  let h = 0x811c9dc5;
  for (const key of Object.keys(params).sort()) {
    const bytes = new Uint8Array(params[key].buffer, params[key].byteOffset, params[key].byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** The first elements of each leaf, to print beside a hash that differs. */
const headOf = (params) => Object.keys(params).map((k) => Array.from(params[k].subarray(0, 3)));

/**
 * Runs the problem on every path with `g` (the gradtx module); `compileOptions` go to the
 * threaded `compile` (the page gives its worker script). `pause` lets a page yield between
 * compiling and stepping, so that its workers start.
 */
export async function runPaths(g, compileOptions = {}, pause = async () => {}) {
  const tx = g.chain(g.clipByGlobalNorm(50), g.addDecayedWeights(0.01), g.lookahead(g.adam(0.01), { syncPeriod: 2 }));
  const grads = Array.from({ length: STEPS }, (_, t) => tree(t + 1));
  const out = {
    inputs: {
      hash: hashOf({
        ...tree(0),
        ...Object.fromEntries(grads.flatMap((g, t) => Object.entries(g).map(([k, v]) => [`${k}@${t}`, v]))),
      }),
    },
  };
  const record = (name, params, extra = {}) => (out[name] = { hash: hashOf(params), head: headOf(params), ...extra });

  let params = tree(0);
  let state = tx.init(params);
  for (const grad of grads) {
    const [updates, next] = tx.update(grad, state, params);
    params = g.applyUpdates(params, updates);
    state = next;
  }
  record("pure", params);

  params = tree(0);
  state = tx.init(params);
  for (const grad of grads) {
    const [updates, next] = tx.update(grad, g.donate(state), params);
    params = g.applyUpdates(g.donate(params), updates);
    state = next;
  }
  record("donated", params);

  for (const threads of [1, 2]) {
    const run = g.compile(tx, tree(0), { ...compileOptions, threads });
    try {
      await pause();
      for (const grad of grads) run.step(grad);
      record(`compiled, ${threads} thread${threads > 1 ? "s" : ""}`, run.params, {
        threads: run.threads,
        backend: run.backend,
      });
    } finally {
      run.dispose();
    }
  }
  return out;
}
