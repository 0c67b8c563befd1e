/**
 * How a pass runs. Over arrays that live in a resident WebAssembly memory (a compiled
 * optimizer's, see {@link withResident}), the generated code runs on them in place, on one
 * thread or several. Over ordinary JavaScript arrays, it streams: each chunk is copied into a
 * fixed scratch area, run, and copied out. On hosts without WebAssembly SIMD, the
 * plain-JavaScript runner runs instead. All give the same bits.
 *
 * @module
 */
import { jsRunner, type Columns, type PassArray, type PassRunner } from "./js.js";
import { BLOCK, passKey, type Pass } from "./pass.js";
import { entryWords, ownEntryWords, ownScalarsWord, PAGE, passModule, wasmApi, type WasmApi } from "./wasm.js";
import { MIN_SPLIT, type PassCode, type Pool } from "./threads.js";

/** Which runner passes over JavaScript arrays use. */
export type Backend = "wasm" | "js";

let backend: Backend = wasmApi !== undefined ? "wasm" : "js";

/** The backend in use: `"wasm"` where the host has WebAssembly SIMD, else `"js"`. */
export function currentBackend(): Backend {
  return backend;
}

/**
 * Runs `body` with passes on `which` backend (tests use this to hold the two to the same bits).
 * `"wasm"` on a host without WebAssembly SIMD throws.
 */
export function withBackend<T>(which: Backend, body: () => T): T {
  if (which === "wasm" && wasmApi === undefined) throw new Error("this host has no WebAssembly SIMD");
  const before = backend;
  backend = which;
  try {
    return body();
  } finally {
    backend = before;
  }
}

/** A WebAssembly memory. */
export type Memory = InstanceType<WasmApi["Memory"]>;

/** A memory whose arrays passes run on in place: a compiled optimizer's. */
export interface Resident {
  readonly memory: Memory;
  /** Its buffer (the memory never grows, so this stays its buffer). */
  readonly buffer: ArrayBufferLike;
  /** Byte address of a region for block sums, and its size in bytes. */
  readonly results: number;
  readonly resultBytes: number;
  /** Worker threads that share the memory, if more than one thread runs. */
  readonly pool: Pool | undefined;
  /** A region for the tables of leaves that one call runs (see {@link entryWords}). */
  readonly table: Int32Array;
  /** With threads: the words of `table` that queued work holds until the next {@link flush}. */
  tableUsed: number;
}

let resident: Resident | undefined;

/** Runs `body` with passes over arrays in `r.memory` running in place (on its threads). */
export function withResident<T>(r: Resident, body: () => T): T {
  const before = resident;
  resident = r;
  try {
    return body();
  } finally {
    flush();
    resident = before;
  }
}

/** What a flush copies out of resident memory once the threads are done: block sums. */
const pendingCopies: (() => void)[] = [];

/** Waits for the queued work of the resident threads, and copies their sums out. */
export function flush(): void {
  const pool = resident?.pool;
  pool?.flush();
  for (const copy of pendingCopies) copy();
  pendingCopies.length = 0;
  pool?.reset();
  if (resident !== undefined) resident.tableUsed = 0;
}

const jsRunners = new Map<string, PassRunner>();
const wasmRunners = new Map<string, PassRunner>();

/**
 * The same caches by pass object, so that a step finds a leaf's runner without building the
 * pass's key. A memo of compiled code, not a property of any transformation: weak, so that
 * passes no plan holds any more are not kept alive by it.
 */
const byPass = { wasm: new WeakMap<Pass, PassRunner>(), js: new WeakMap<Pass, PassRunner>() };

/** The runner of `pass` on the current backend (cached by the pass, and by what it computes). */
export function runnerOf(pass: Pass): PassRunner {
  const known = byPass[backend].get(pass);
  if (known !== undefined) return known;
  const key = passKey(pass);
  const cache = backend === "wasm" ? wasmRunners : jsRunners;
  let runner = cache.get(key);
  if (runner === undefined) {
    runner = backend === "wasm" ? wasmRunner(pass, wasmApi!) : jsRunner(pass);
    cache.set(key, runner);
  }
  byPass[backend].set(pass, runner);
  return runner;
}

/** Elements per streamed chunk: a few scratch buffers of it stay in a core's cache. */
const CHUNK = 4 * BLOCK;

/** The scratch memory every streamed pass shares (one pass runs at a time). */
interface Scratch {
  memory: Memory;
  f32: Float32Array;
  f64: Float64Array;
  i32: Int32Array;
}
let scratch: Scratch | undefined;

/** The most pages the scratch memory may grow to: 1 GiB of address space, reserved, not used. */
const SCRATCH_PAGES = 16384;

/**
 * A new scratch memory of `pages`. Not shared: `TypedArray.prototype.set` into or out of a view
 * of shared memory copies word by word in Node 20 (AMD EPYC, chunks of 64 KiB: 120 MB in 8.7 ms
 * against 4.6 ms, out 8.1 against 6.9; 3,000 leaves of 1,000 out 2.0 against 0.8 ms), and every
 * streamed pass copies its leaves in and its results out.
 */
function newScratch(api: WasmApi, pages: number): Scratch {
  const memory = new api.Memory({ initial: pages, maximum: Math.max(pages, SCRATCH_PAGES) });
  const { buffer } = memory;
  return { memory, f32: new Float32Array(buffer), f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
}

/** The scratch memory, grown to at least `bytes`. */
function scratchOf(api: WasmApi, bytes: number): Scratch {
  const pages = Math.ceil(bytes / PAGE);
  if (scratch === undefined) {
    scratch = newScratch(api, pages);
  } else if (scratch.memory.buffer.byteLength < bytes) {
    scratch.memory.grow(pages - scratch.memory.buffer.byteLength / PAGE);
  }
  if (scratch.f64.buffer !== scratch.memory.buffer) {
    scratch.f32 = new Float32Array(scratch.memory.buffer);
    scratch.f64 = new Float64Array(scratch.memory.buffer);
    scratch.i32 = new Int32Array(scratch.memory.buffer);
  }
  return scratch;
}

/** The names a pass reads. */
function readsOf(pass: Pass): Set<string> {
  const reads = new Set<string>();
  const visit = (e: object): void => {
    const node = e as { op: string; name?: string; a?: object; b?: object; cond?: object };
    if (node.op === "input") reads.add(node.name!);
    for (const child of [node.a, node.b, node.cond]) if (child !== undefined) visit(child);
  };
  pass.stores.forEach((s) => visit(s.value));
  pass.reductions.forEach((r) => (visit(r.a), visit(r.b)));
  return reads;
}

/** Leaf segments one `runs` call of a streamed pass takes at most. */
const SEGMENTS = 256;

/** Copies elements `[f, f + len)` of `from` to `[t, t + len)` of `to`. */
function copy(from: PassArray, f: number, to: PassArray, t: number, len: number): void {
  // A short stretch is copied element by element: cheaper than a subarray to copy it with.
  if (len <= 64) for (let j = 0; j < len; j++) to[t + j] = from[f + j]!;
  else if (f === 0 && len === from.length) to.set(from, t);
  else to.set(from.subarray(f, f + len), t);
}

/**
 * The WebAssembly runner of a pass. A run of leaves goes to the module's `runs` as one table of
 * entries (see {@link entryWords}): in place over arrays of the resident memory (or of an arena,
 * for the leaves that live in it wholly), else streamed through a scratch area, where the leaves' chunks are packed side by side (buffer `k`'s slot at
 * `k * CHUNK` elements, then the block sums, then the table) and each copied in and out around
 * the call.
 */
function wasmRunner(pass: Pass, api: WasmApi): PassRunner {
  const reads = readsOf(pass);
  const isInput = pass.buffers.map((name) => reads.has(name));
  /** The buffers the pass writes. */
  const outputs = pass.buffers.flatMap((name, k) => (pass.stores.some((s) => s.buffer === name) ? [k] : []));
  const size = pass.dtype === "f32" ? 4 : 8;
  /** Elements per 16 bytes: packed segments start at whole vectors. */
  const vector = 16 / size;
  const r = pass.reductions.length;
  const nb = pass.buffers.length;
  const words = entryWords(pass);
  const ownWords = ownEntryWords(pass);
  /** Where an entry of a `runsOwn` table keeps its scalars, in words from its start. */
  const ownAt = ownScalarsWord(pass);
  const slot = CHUNK * 8;
  const resultsAt = nb * slot;
  /** The block sums a streamed table has room for: a chunk's, and one more per segment. */
  const sumsRoom = r * (CHUNK / BLOCK + SEGMENTS);
  const tableAt = resultsAt + 8 * Math.max(1, sumsRoom);
  const bytes = tableAt + 4 * ownWords * SEGMENTS;
  const modules: { plain?: PassCode; shared?: PassCode } = {};
  const codeFor = (shared: boolean): PassCode => {
    const which = shared ? "shared" : "plain";
    const make = (): PassCode => {
      const bytes = passModule(pass, shared);
      return { module: new api.Module(bytes), bytes };
    };
    return (modules[which] ??= make());
  };
  // A WebAssembly instance is bound to its memory: one per memory the pass runs on (the scratch,
  // each compiled optimizer's, each arena), dropped with the memory. With it, the address of each
  // array the pass last ran on in that memory, by leaf and buffer: a typed array's `buffer` and
  // `byteOffset` cost tens of nanoseconds each to read in Node 20, and a step runs on the same
  // arrays as the one before.
  type Exports = {
    run: (...a: number[]) => void;
    runs: (...a: number[]) => void;
    runsOwn: (table: number, count: number) => void;
  };
  interface Bound {
    /** The instance on this memory (none where the memory's threads run the pass). */
    exports: Exports | undefined;
    /** The memory's buffer (addresses are kept only in memories that never grow). */
    readonly buffer: ArrayBufferLike;
    /** At `leaf * buffers + k`: the array last seen there, and its byte address (-1: elsewhere). */
    readonly arrays: (PassArray | undefined)[];
    readonly offsets: number[];
    /** The tables of the last calls on this memory, to run again (see {@link Kept}). */
    readonly kept: Map<number, Kept>;
    readonly keptOnPool: Map<number, KeptOnPool>;
  }
  const instances = new WeakMap<Memory, Bound>();
  const boundTo = (memory: Memory): Bound => {
    let bound = instances.get(memory);
    if (bound === undefined)
      instances.set(
        memory,
        (bound = {
          exports: undefined,
          buffer: memory.buffer,
          arrays: [],
          offsets: [],
          kept: new Map(),
          keptOnPool: new Map(),
        }),
      );
    return bound;
  };
  /** One table of entries a call ran on this thread, and where each entry's block sums go. */
  interface KeptTable {
    readonly words: Int32Array;
    readonly leaf: Int32Array;
    readonly length: Int32Array;
    readonly sum: Int32Array;
  }
  /**
   * What a call in place built, kept to run again. A compiled step calls each pass on the same
   * lists of arrays step after step (the lists themselves), a donated step on new lists of the
   * same arrays, and the arrays of a resident memory or an arena never move: a call on the same
   * arrays and the same leaves runs the tables it built last time, without finding each leaf's
   * addresses.
   */
  interface Kept {
    readonly columns: Columns;
    readonly leaves: Int32Array;
    readonly tables: KeptTable[];
  }
  /**
   * What a call on `columns` and `leaves` kept, if it is there: by its first leaf, so that the
   * calls of a step that each take a few leaves (their scalars differ) each find their own.
   */
  const keptFor = <T extends { readonly columns: Columns; readonly leaves: Int32Array }>(
    kept: ReadonlyMap<number, T>,
    columns: Columns,
    leaves: ArrayLike<number>,
  ): T | undefined => {
    const known = kept.get(leaves[0]!);
    if (known === undefined || known.leaves.length !== leaves.length) return undefined;
    for (let j = 0; j < leaves.length; j++) if (known.leaves[j] !== leaves[j]) return undefined;
    for (let k = 0; k < nb; k++) {
      const then = known.columns[k]!;
      const now = columns[k]!;
      if (then === now) continue;
      // New lists of the same arrays (a donated step gathers its lists anew) run the same tables.
      for (let j = 0; j < leaves.length; j++) if (then[leaves[j]!] !== now[leaves[j]!]) return undefined;
    }
    return known;
  };
  /**
   * The same for a call on a memory's threads: what it queued, in order. A leaf split over the
   * threads (`thread` -1) with its buffers' addresses, or a table of leaves for one thread, each
   * entry's sums address relative to the table's (the sums region is reserved anew each call).
   */
  interface KeptOnPool {
    readonly columns: Columns;
    readonly leaves: Int32Array;
    readonly items: {
      readonly thread: number;
      readonly table: Int32Array;
      readonly list: number[];
      readonly load: number;
    }[];
  }
  /** The pass's exports on `memory`, a memory that is not shared (threads run their own). */
  const runOn = (memory: Memory): Bound => {
    const bound = boundTo(memory);
    bound.exports ??= new api.Instance(codeFor(false).module, { env: { memory } }).exports as Exports;
    return bound;
  };
  /** The byte address of buffer k of leaf i in the bound memory, or -1 where it lives elsewhere. */
  const addressIn = (bound: Bound, a: PassArray, i: number, k: number): number => {
    const at = i * nb + k;
    const { arrays, offsets } = bound;
    // Grown in order, so that the arrays stay dense (a write far past the end makes a dictionary).
    while (arrays.length <= at) {
      arrays.push(undefined);
      offsets.push(-1);
    }
    if (arrays[at] === a) return offsets[at]!;
    const offset = a.buffer === bound.buffer ? a.byteOffset : -1;
    arrays[at] = a;
    offsets[at] = offset;
    return offset;
  };
  const args = new Array<number>(nb + 1 + pass.scalars.length + (r > 0 ? 1 : 0));
  const tableArgs = new Array<number>(2 + pass.scalars.length);
  // The segments of the pending table: leaf, first element, length, packed position, first sum.
  const segLeaf = new Int32Array(SEGMENTS);
  const segFrom = new Int32Array(SEGMENTS);
  const segLen = new Int32Array(SEGMENTS);
  const segAt = new Int32Array(SEGMENTS);
  const segSum = new Int32Array(SEGMENTS);
  /** The addresses of one leaf's buffers in an arena (-1: copied through the scratch area). */
  const leafAt = new Int32Array(nb);

  /**
   * Writes the addresses of leaf i's buffers in the bound memory to `into[at..]`; false (and
   * the leaf is a stray, streamed after the others) where one lives elsewhere.
   */
  const addressesIn = (bound: Bound, columns: Columns, i: number, into: Int32Array | number[], at: number) => {
    for (let k = 0; k < nb; k++) if ((into[at + k] = addressIn(bound, columns[k]![i]!, i, k)) < 0) return false;
    return true;
  };

  /** Whether the entry at `w` starts, in every buffer, where the entry at `before` ends. */
  const follows = (table: Int32Array, before: number, w: number): boolean => {
    const bytes = size * table[before + nb]!;
    for (let k = 0; k < nb; k++) if (table[w + k] !== table[before + k]! + bytes) return false;
    return true;
  };

  /** Leaves of a call that live outside the resident memory (streamed after the others). */
  const strays: number[] = [];
  /** With scalars per leaf, the position of each stray in its call's leaves. */
  const strayOwn: number[] = [];
  const ns = pass.scalars.length;
  /** Runs the table of `entries` at byte `address`: with the call's scalars, or each entry its own. */
  const runTableAt = (exports: Exports, address: number, entries: number, own: Float64Array | undefined) => {
    if (own !== undefined) return exports.runsOwn(address, entries);
    tableArgs[0] = address;
    tableArgs[1] = entries;
    Reflect.apply(exports.runs, undefined, tableArgs);
  };
  /** Copies the scalars of the call's `j`-th leaf from `own` to `into[at..]`. */
  const ownValues = (own: Float64Array, j: number, into: Float64Array, at: number) => {
    for (let q = 0; q < ns; q++) into[at + q] = own[j * ns + q]!;
  };

  /**
   * In place, on the resident memory's threads: a leaf large enough to split is queued alone, in
   * parts (see `MIN_SPLIT`); the others go as one table per thread, each a run of neighbouring
   * leaves with about the same number of elements.
   */
  const queueOnPool = (
    home: Resident,
    pool: Pool,
    columns: Columns,
    leaves: ArrayLike<number>,
    results: Float64Array | undefined,
    at: ArrayLike<number> | undefined,
    own: Float64Array | undefined,
  ) => {
    const bound = boundTo(home.memory);
    const code = codeFor(true);
    const stride = own === undefined ? words : ownWords;
    /** Queues the call's `j`-th leaf, i, alone, split over the threads, its buffers at `addresses`. */
    const queueSplit = (i: number, j: number, addresses: ArrayLike<number>) => {
      for (let k = 0; k < nb; k++) args[k] = addresses[k]!;
      const n = columns[0]![i]!.length;
      args[nb] = n;
      if (own !== undefined) for (let q = 0; q < ns; q++) args[nb + 1 + q] = own[j * ns + q]!;
      if (r > 0) args[nb + 1 + ns] = home.results + reserveSums(home, pool, columns, [i], results!, at!);
      pool.queue(code, args, nb, size, r, n);
    };
    /**
     * Queues a table of `words` (its entries' sums addresses relative to the table's sums) on
     * thread t: the sums of `list`'s leaves, `load` elements.
     */
    const queueTable = (t: number, table: Int32Array, list: readonly number[], load: number) => {
      // A table whose entries carry float64 scalars starts at a whole number of 8 bytes.
      let w0 = home.tableUsed + (own === undefined ? 0 : home.tableUsed & 1);
      if (w0 + table.length > home.table.length) {
        pool.flush();
        w0 = 0;
      }
      home.table.set(table, w0);
      if (r > 0) {
        const sums = home.results + reserveSums(home, pool, columns, list, results!, at!);
        for (let w = w0 + nb + 1; w < w0 + table.length; w += stride) home.table[w]! += sums;
      }
      home.tableUsed = w0 + table.length;
      tableArgs[0] = home.table.byteOffset + 4 * w0;
      tableArgs[1] = table.length / stride;
      pool.queueRuns(code, own === undefined ? tableArgs : tableArgs.slice(0, 2), t, load, own !== undefined);
    };
    // A call whose leaves carry their own scalars is not kept: its scalars change from step to step.
    const known = own === undefined ? keptFor(bound.keptOnPool, columns, leaves) : undefined;
    if (known !== undefined) {
      for (const item of known.items)
        if (item.thread < 0) queueSplit(item.list[0]!, -1, item.table);
        else queueTable(item.thread, item.table, item.list, item.load);
      return;
    }
    const kept: KeptOnPool = { columns, leaves: Int32Array.from(leaves), items: [] };
    const small: number[] = [];
    /** With scalars per leaf, each small leaf's position in the call's leaves. */
    const smallAt: number[] = [];
    let elements = 0;
    for (let j = 0; j < leaves.length; j++) {
      const i = leaves[j]!;
      if (!addressesIn(bound, columns, i, args, 0)) {
        strays.push(i);
        if (own !== undefined) strayOwn.push(j);
        continue;
      }
      const n = columns[0]![i]!.length;
      if (n < MIN_SPLIT) {
        small.push(i);
        smallAt.push(j);
        elements += n;
        continue;
      }
      const addresses = Int32Array.from(args.slice(0, nb));
      kept.items.push({ thread: -1, table: addresses, list: [i], load: n });
      queueSplit(i, j, addresses);
    }
    // The small leaves: thread t takes those whose elements start in its share of them.
    let j = 0;
    for (let t = 0, before = 0; t < pool.lanes && j < small.length; t++) {
      const end = ((t + 1) * elements) / pool.lanes;
      const first = j;
      let n = 0;
      while (j < small.length && (before + n < end || t === pool.lanes - 1)) n += columns[0]![small[j++]!]!.length;
      before += n;
      // In tables that fit the region (less one word, to start on 8 bytes): a full region waits
      // for the work queued on it.
      const capacity = Math.floor((home.table.length - 1) / stride);
      for (let from = first; from < j; from += capacity) {
        const to = Math.min(j, from + capacity);
        // The table's block sums, side by side in one reservation, copied out in one go: each
        // entry's address here is relative to the reservation's.
        const table = new Int32Array(stride * (to - from));
        const values = own === undefined ? undefined : new Float64Array(table.buffer);
        let entries = 0;
        let load = 0;
        let sumsUsed = 0;
        for (let e = from; e < to; e++) {
          const i = small[e]!;
          const w = entries * stride;
          for (let k = 0; k < nb; k++) table[w + k] = bound.offsets[i * nb + k]!;
          const len = columns[0]![i]!.length;
          load += len;
          if (values !== undefined) ownValues(own!, smallAt[e]!, values, (w + ownAt) >> 1);
          else if (r === 0 && w > 0 && follows(table, w - words, w)) {
            table[w - words + nb]! += len;
            continue;
          }
          table[w + nb] = len;
          if (r > 0) {
            table[w + nb + 1] = 8 * sumsUsed;
            sumsUsed += r * Math.ceil(len / BLOCK);
          }
          entries++;
        }
        const item = { thread: t, table: table.subarray(0, entries * stride), list: small.slice(from, to), load };
        kept.items.push(item);
        queueTable(t, item.table, item.list, load);
      }
    }
    if (own === undefined && strays.length === 0) bound.keptOnPool.set(leaves[0]!, kept);
  };

  /**
   * Room for the block sums of `list`'s leaves (a table's, or one split leaf's), side by side in
   * the resident region, copied into `results` (each leaf's at `at[i]`) once the threads are
   * done; returns its offset.
   */
  const reserveSums = (
    home: Resident,
    pool: Pool,
    columns: Columns,
    list: readonly number[],
    results: Float64Array,
    at: ArrayLike<number>,
  ): number => {
    let count = 0;
    for (const i of list) count += r * Math.ceil(columns[0]![i]!.length / BLOCK);
    const offset = pool.reserve(8 * count);
    if (offset + 8 * count > home.resultBytes) throw new Error("the resident sums region is too small");
    const lengths = list.map((i) => columns[0]![i]!.length);
    pendingCopies.push(() => {
      const sums = new Float64Array(home.buffer, home.results + offset, count);
      for (let e = 0, o = 0; e < list.length; e++) {
        const into = at[list[e]!]!;
        const c = r * Math.ceil(lengths[e]! / BLOCK);
        for (let q = 0; q < c; q++) results[into + q] = sums[o + q]!;
        o += c;
      }
    });
    return offset;
  };

  /**
   * In place, on this thread: the leaves' entries in the resident memory's table, one call per
   * table; with `own`, each entry carries its leaf's scalars (such a call is not kept: its
   * scalars change from step to step).
   */
  const runResident = (
    home: Resident,
    columns: Columns,
    leaves: ArrayLike<number>,
    results: Float64Array | undefined,
    at: ArrayLike<number> | undefined,
    own: Float64Array | undefined,
  ) => {
    const bound = runOn(home.memory);
    const { table } = home;
    const stride = own === undefined ? words : ownWords;
    const capacity = Math.min(SEGMENTS, Math.floor(table.length / stride));
    const sums = r > 0 ? new Float64Array(home.buffer, home.results, home.resultBytes / 8) : undefined;
    /** Runs `entries` entries of the table, and copies their sums out. */
    const runEntries = (entries: number, leaf: Int32Array, length: Int32Array, sum: Int32Array) => {
      runTableAt(bound.exports!, table.byteOffset, entries, own);
      if (sums !== undefined)
        for (let e = 0; e < entries; e++)
          copy(sums, sum[e]!, results!, at![leaf[e]!]!, r * Math.ceil(length[e]! / BLOCK));
    };
    const known = own === undefined ? keptFor(bound.kept, columns, leaves) : undefined;
    if (known !== undefined) {
      for (const t of known.tables) {
        table.set(t.words);
        runEntries(t.leaf.length, t.leaf, t.length, t.sum);
      }
      return;
    }
    const kept: Kept | undefined =
      own === undefined ? { columns, leaves: Int32Array.from(leaves), tables: [] } : undefined;
    // The entries' scalars, as float64 words of the table (whose start is a whole number of 8 bytes).
    const values = own === undefined ? undefined : new Float64Array(home.buffer, table.byteOffset, table.length >> 1);
    let entries = 0;
    let used = 0;
    const runTable = () => {
      kept?.tables.push({
        words: table.slice(0, entries * words),
        leaf: segLeaf.slice(0, entries),
        length: segLen.slice(0, entries),
        sum: segSum.slice(0, entries),
      });
      runEntries(entries, segLeaf, segLen, segSum);
      entries = used = 0;
    };
    for (let j = 0; j < leaves.length; j++) {
      const i = leaves[j]!;
      const n = columns[0]![i]!.length;
      const count = r * Math.ceil(n / BLOCK);
      // A leaf whose sums would not fit the region (one of over a billion elements in an arena)
      // is streamed after the others, as is a leaf elsewhere.
      const fits = 8 * count <= home.resultBytes;
      if (fits && (entries === capacity || 8 * (used + count) > home.resultBytes)) runTable();
      const w = entries * stride;
      if (!fits || !addressesIn(bound, columns, i, table, w)) {
        strays.push(i);
        if (own !== undefined) strayOwn.push(j);
        continue;
      }
      if (values !== undefined) ownValues(own!, j, values, (w + ownAt) >> 1);
      // A pass that does not reduce runs a leaf that starts where the last one ends, in every
      // buffer, as more of the last one: each element is computed alone, so nothing changes
      // (where the leaves have scalars of their own, each keeps its entry).
      else if (r === 0 && entries > 0 && follows(table, w - words, w)) {
        table[w - words + nb]! += n;
        continue;
      }
      table[w + nb] = n;
      table[w + nb + 1] = home.results + 8 * used;
      segLeaf[entries] = i;
      segLen[entries] = n;
      segSum[entries] = used;
      entries++;
      used += count;
    }
    if (entries > 0) runTable();
    // A call with leaves elsewhere (streamed after these) is not kept.
    if (kept !== undefined && strays.length === 0) bound.kept.set(leaves[0]!, kept);
  };

  /**
   * Streamed through a scratch area: an arena's, where some arrays live in one (those are read
   * and written where they are), else the scratch memory every streamed pass shares.
   */
  const stream = (
    columns: Columns,
    leaves: ArrayLike<number>,
    results: Float64Array | undefined,
    at: ArrayLike<number> | undefined,
    own: Float64Array | undefined,
  ) => {
    const arena = arenaOfAny(columns, leaves[0]!);
    const s = arena !== undefined && bytes <= arena.scratchBytes ? arena : scratchOf(api, bytes);
    const base = s === arena ? arena.scratchAt : 0;
    const bound = runOn(s.memory);
    const view: PassArray = pass.dtype === "f32" ? s.f32 : s.f64;
    const table = (base + tableAt) / 4;
    const stride = own === undefined ? words : ownWords;
    const sums = (base + resultsAt) / 8;
    /** Buffer k of leaf i's address in the arena, or -1: it is copied through the scratch area. */
    const direct = (i: number, k: number) => (s === arena ? addressIn(bound, columns[k]![i]!, i, k) : -1);
    let entries = 0;
    let packed = 0;
    let used = 0;
    const runTable = () => {
      runTableAt(bound.exports!, base + tableAt, entries, own);
      for (let e = 0; e < entries; e++) {
        const i = segLeaf[e]!;
        const len = segLen[e]!;
        const w = table + e * stride;
        // An output went through the scratch area where its entry points there (an arena's own
        // arrays lie below its scratch area).
        for (const k of outputs) {
          const at = (base + k * slot) / size + segAt[e]!;
          if (s.i32[w + k] === at * size) copy(view, at, columns[k]![i]!, segFrom[e]!, len);
        }
        if (r > 0)
          copy(s.f64, sums + segSum[e]!, results!, at![i]! + (segFrom[e]! / BLOCK) * r, r * Math.ceil(len / BLOCK));
      }
      entries = packed = used = 0;
    };
    for (let j = 0; j < leaves.length; j++) {
      const i = leaves[j]!;
      const n = columns[0]![i]!.length;
      // A leaf whose every buffer lives in the arena takes no room in the scratch area.
      let inArena = true;
      for (let k = 0; k < nb; k++) if ((leafAt[k] = direct(i, k)) < 0) inArena = false;
      for (let from = 0; from < n; from += CHUNK) {
        const len = Math.min(CHUNK, n - from);
        const blocks = r * Math.ceil(len / BLOCK);
        if (entries === SEGMENTS || (!inArena && packed + len > CHUNK) || used + blocks > sumsRoom) runTable();
        const w = table + entries * stride;
        for (let k = 0; k < nb; k++) {
          const address = leafAt[k]!;
          if (address >= 0) {
            s.i32[w + k] = address + from * size;
            continue;
          }
          s.i32[w + k] = base + k * slot + packed * size;
          if (isInput[k]) copy(columns[k]![i]!, from, view, (base + k * slot) / size + packed, len);
        }
        if (own !== undefined) ownValues(own, j, s.f64, (w + ownAt) >> 1);
        s.i32[w + nb] = len;
        s.i32[w + nb + 1] = base + resultsAt + 8 * used;
        segLeaf[entries] = i;
        segFrom[entries] = from;
        segLen[entries] = len;
        segAt[entries] = packed;
        segSum[entries] = used;
        entries++;
        if (!inArena) packed += Math.ceil(len / vector) * vector;
        used += blocks;
      }
    }
    if (entries > 0) runTable();
  };

  const runner: PassRunner = (columns, leaves, scalars, results, at, own) => {
    if (leaves.length === 0) return;
    // The arena the first leaf lives in runs in place too: its leaves that live there wholly run
    // from a table kept from step to step, as a compiled memory's do; the others are streamed.
    const home = resident ?? arenaOfAny(columns, leaves[0]!)?.resident;
    if (own === undefined) for (let k = 0; k < ns; k++) args[nb + 1 + k] = tableArgs[2 + k] = scalars[k]!;
    if (home === undefined) return stream(columns, leaves, results, at, own);
    if (home.pool !== undefined) queueOnPool(home, home.pool, columns, leaves, results, at, own);
    else runResident(home, columns, leaves, results, at, own);
    if (strays.length === 0) return;
    // Each stray with its own scalars, in the order of the strays.
    const strayValues = own === undefined ? undefined : new Float64Array(strays.length * ns);
    if (strayValues !== undefined) strayOwn.forEach((j, e) => ownValues(own!, j, strayValues, e * ns));
    stream(columns, strays, results, at, strayValues);
    strays.length = 0;
    strayOwn.length = 0;
  };
  return runner;
}

/**
 * A memory that a donated state's arrays move into on its first donated step, so that the steps
 * after it run their passes on them where they are: the arrays it holds (`keep`, a bump region
 * that never frees) and a scratch area for the arrays that live elsewhere (the gradients, say).
 * It never grows, so its views stay valid, and it goes when no array in it is held any more.
 */
export interface Arena extends Scratch {
  readonly buffer: ArrayBufferLike;
  /**
   * The arena as a memory passes run on in place (its scratch area holds the tables and the
   * block sums), for the leaves that live in it wholly.
   */
  readonly resident: Resident;
  /** The next free byte of the kept region, and its end (the scratch area's start). */
  next: number;
  readonly scratchAt: number;
  readonly scratchBytes: number;
  /** By leaf, the array a donated step copies its gradient into (see {@link staged}). */
  readonly stage: (PassArray | undefined)[];
}

/** The arena each memory buffer belongs to: value bookkeeping, weak so that an arena can go. */
const arenas = new WeakMap<ArrayBufferLike, Arena>();

/** Passes of at most this many buffers stream through an arena's scratch (others, the shared one). */
const ARENA_BUFFERS = 32;
/** ...and of at most this many reductions. */
const ARENA_REDUCTIONS = 4;

/**
 * The arena holding one of leaf i's arrays, if any does: the arena a run streams through (the
 * leaves of a run share one, or copy what lives elsewhere).
 */
function arenaOfAny(columns: Columns, i: number): Arena | undefined {
  for (let k = 0; k < columns.length; k++) {
    const arena = arenas.get(columns[k]![i]!.buffer);
    if (arena !== undefined) return arena;
  }
  return undefined;
}

/** The arena `a` lives in, if it lives in one. */
export function arenaOf(a: PassArray): Arena | undefined {
  return arenas.get(a.buffer);
}

/** `bytes` rounded up to whole 16-byte vectors: how much room an array takes in a memory. */
export const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/**
 * A new arena that keeps up to `keepBytes`, with a scratch area of about 4 MiB; none on the
 * JavaScript backend, past 4 GiB, or when the host cannot give the memory.
 */
export function newArena(keepBytes: number): Arena | undefined {
  const api = wasmApi;
  if (api === undefined || backend !== "wasm") return undefined;
  const scratchAt = align16(keepBytes);
  const scratchBytes =
    ARENA_BUFFERS * CHUNK * 8 + 8 * ARENA_REDUCTIONS * (CHUNK / BLOCK + SEGMENTS) + 4 * (ARENA_BUFFERS + 2) * SEGMENTS;
  const pages = Math.ceil((scratchAt + scratchBytes) / PAGE);
  if (pages > 65536) return undefined;
  // Not shared: a state's arrays live here, and a structured clone of a view of shared memory
  // would alias the live arrays where it must copy them. A host that cannot give the memory
  // leaves the arrays where they are.
  let memory: Memory;
  try {
    memory = new api.Memory({ initial: pages, maximum: pages });
  } catch {
    return undefined;
  }
  const { buffer } = memory;
  // The scratch area, when a pass runs in place: half for block sums, the rest for its tables.
  const sumsBytes = align16(scratchBytes / 2);
  const arena: Arena = {
    memory,
    buffer,
    resident: {
      memory,
      buffer,
      results: scratchAt,
      resultBytes: sumsBytes,
      pool: undefined,
      table: new Int32Array(buffer, scratchAt + sumsBytes, (scratchBytes - sumsBytes) >> 2),
      tableUsed: 0,
    },
    f32: new Float32Array(buffer),
    f64: new Float64Array(buffer),
    i32: new Int32Array(buffer),
    next: 0,
    scratchAt,
    scratchBytes,
    stage: [],
  };
  arenas.set(buffer, arena);
  return arena;
}

/**
 * `arrays` copied into the arena, each into the array its leaf had there the step before (made
 * the first time, where there is room; an array the arena has no room for stays as it is), so
 * that a donated step's passes read the gradient where they read everything else: it is copied
 * in once, not once per pass through the scratch area, and the leaves run as one.
 */
export function staged(arena: Arena, arrays: readonly PassArray[]): PassArray[] {
  const out: PassArray[] = [];
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i]!;
    let to = arena.stage[i];
    if (a.buffer === arena.buffer || a.length === 0) {
      out.push(a);
      continue;
    }
    if (to === undefined || to.length !== a.length || to.constructor !== a.constructor) {
      to = arenaAlloc(arena, a instanceof Float32Array ? "f32" : "f64", a.length);
      // Grown in order, so that the list stays dense.
      while (arena.stage.length <= i) arena.stage.push(undefined);
      arena.stage[i] = to;
    }
    if (to === undefined) out.push(a);
    else {
      to.set(a);
      out.push(to);
    }
  }
  return out;
}

/** An array of `n` elements in the arena's kept region, if it has room. */
export function arenaAlloc(arena: Arena, dtype: "f32" | "f64", n: number): PassArray | undefined {
  const size = dtype === "f32" ? 4 : 8;
  const bytes = align16(n * size);
  if (arena.next + bytes > arena.scratchAt) return undefined;
  const at = arena.next;
  arena.next += bytes;
  return dtype === "f32" ? new Float32Array(arena.buffer, at, n) : new Float64Array(arena.buffer, at, n);
}
