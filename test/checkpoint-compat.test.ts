/**
 * Checkpoints written by an earlier gradtx still resume: every fixture of
 * test/fixtures/checkpoints (written by gradtx 0.2.0 after `STEPS_BEFORE` steps) is read into
 * the optimizer the table rebuilds, continued, and compared with an uninterrupted run of
 * today's code from step 0.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  deserializeParams,
  deserializeState,
  GradTxError,
  serializeState,
  slowParams,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import {
  dataOf,
  flatten,
  isFloatArray,
  leafPaths,
  shapeOf,
  type FloatArray,
  type FloatNdArray,
} from "../src/core/pytree.js";
import {
  cases,
  FROZEN_VERSION,
  gradient,
  initialParams,
  paramsFile,
  STEPS_BEFORE,
  stateFile,
  type CheckpointCase,
  type Index,
} from "./fixtures/checkpoints/table.js";

/** `N`: steps taken after resuming. */
const STEPS_AFTER = 12;

/**
 * Float64 leaves: within 1e-12 of the leaf's magnitude (the largest |x| of the expected leaf and
 * of the params leaf at the same path, so that an update that is a difference of two params, as
 * at a Lookahead sync, is measured against the numbers it was computed from). Today the resumed
 * run matches bit for bit; 1e-12 leaves room for a kernel that orders float64 operations
 * differently (each reordering costs an ulp, 1.1e-16, and 19 steps of a few of them stay far
 * below 1e-12) while any misread of a state (a moment, a count, a slow weight) moves the
 * trajectory by far more.
 */
const F64_RELATIVE = 1e-12;

/**
 * Float32 leaves: within `F32_ULPS_PER_STEP` float32 ulps of the leaf's magnitude (as above) for
 * every step taken from step 0. The redesign changes float32 arithmetic from "float64
 * intermediates, round once at the store" to "every operation in float32": a step is a handful
 * of operations per element (a moving average, a square root, a division, the learning rate),
 * each rounding by at most half an ulp, so every float32 number the step stores (a moment, a
 * slow weight, an update) may land an ulp or two away from where 0.2.0 put it. Those errors
 * persist in the state and add up step after step; a momentum trace, which holds up to
 * 1 / (1 - 0.9) = 10 gradients, carries its errors into the params ten times over. Measured on
 * these cases, an error of two ulps on every float32 number of every state and update, all in
 * the same direction step after step (worse than rounding, which has no preferred direction),
 * takes at most 6 ulps per step (Lookahead with adaptive alpha around sgd with momentum; plain
 * momentum, 3); random one-ulp errors take under 1. Eight per step bounds the systematic case
 * with room, and the test "absorbs two ulps of noise" below keeps that measurement honest. Bit
 * equality is not asserted: the saved run and its continuation may round differently once the
 * code changes. At 19 steps the bound is 1.8e-5 of the leaf's magnitude, far below what a
 * misread state does (the last test: one part in 10^4 is noticed).
 *
 * A case the table marks `couplesLeaves` (adaptive alpha: one number per sync, computed from
 * every leaf, float32 ones included) holds its float64 leaves to this bound too: float32
 * rounding reaches them through that number (by 1.4e-7 of their magnitude under the noise
 * below). Every other case keeps its float64 leaves at 1e-12 under that noise, which checks the
 * marks.
 *
 * A sign-based step (lion) could amplify: a moving average within an ulp of zero may change
 * sign. With these gradients none comes that close.
 */
const F32_ULPS_PER_STEP = 8;
const EPS32 = 2 ** -23;

const dir = new URL("./fixtures/checkpoints/", import.meta.url);
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dir)));
const index = JSON.parse(readFileSync(new URL("index.json", dir), "utf8")) as Index;

interface Point {
  readonly params: PyTree;
  readonly updates: PyTree;
  readonly state: unknown;
}

/** Steps `from` .. `to - 1` (counting from 0) with the table's gradients; the point after each. */
function run(tx: GradientTransformation, params: PyTree, state: unknown, from: number, to: number): Point[] {
  const out: Point[] = [];
  let p = params;
  let s = state;
  for (let t = from; t < to; t++) {
    const [updates, next] = tx.update(gradient(t), s, p);
    p = applyUpdates(p, updates);
    s = next;
    out.push({ params: p, updates, state: s });
  }
  return out;
}

/** The largest finite |x| of `data`. */
function maxAbs(data: FloatArray): number {
  let m = 0;
  for (const x of data) if (Number.isFinite(x)) m = Math.max(m, Math.abs(x));
  return m;
}

/**
 * Why `actual` is not `expected` within the tolerances after `steps` steps from step 0, or null.
 * `params` is the expected params tree at that point, for the magnitude of each leaf.
 */
function mismatch(
  actual: PyTree,
  expected: PyTree,
  params: PyTree,
  steps: number,
  c: CheckpointCase,
  label: string,
): string | null {
  const a = flatten(actual);
  const e = flatten(expected);
  const paths = leafPaths(e.def);
  if (JSON.stringify(leafPaths(a.def)) !== JSON.stringify(paths))
    return `${label}: leaves ${leafPaths(a.def)} vs ${paths}`;
  const p = flatten(params);
  const paramPaths = leafPaths(p.def);
  for (let i = 0; i < e.leaves.length; i++) {
    const path = paths[i]!;
    const [ax, ex] = [a.leaves[i]!, e.leaves[i]!];
    const [ad, ed] = [dataOf(ax), dataOf(ex)];
    if (ad.constructor !== ed.constructor)
      return `${label}.${path}: a ${ad.constructor.name}, expected a ${ed.constructor.name}`;
    if (isFloatArray(ax) !== isFloatArray(ex) || shapeOf(ax).join() !== shapeOf(ex).join())
      return `${label}.${path}: shape [${shapeOf(ax)}], expected [${shapeOf(ex)}]`;
    const j = paramPaths.indexOf(path);
    const scale = Math.max(maxAbs(ed), j < 0 ? 0 : maxAbs(dataOf(p.leaves[j]!)));
    const f32 = ed instanceof Float32Array || c.couplesLeaves !== undefined;
    const tolerance = f32 ? F32_ULPS_PER_STEP * steps * EPS32 * scale : F64_RELATIVE * scale;
    for (let k = 0; k < ed.length; k++) {
      const [x, y] = [ad[k]!, ed[k]!];
      if (!(Math.abs(x - y) <= tolerance || Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))))
        return `${label}.${path}[${k}]: ${x}, expected ${y} (off by ${Math.abs(x - y)}, tolerance ${tolerance})`;
    }
  }
  return null;
}

/** Compares a continuation with the uninterrupted run, step by step: the first difference, or null. */
function divergence(c: CheckpointCase, rest: readonly Point[], full: readonly Point[]): string | null {
  for (let i = 0; i < rest.length; i++) {
    const [r, f] = [rest[i]!, full[STEPS_BEFORE + i]!];
    const steps = STEPS_BEFORE + i + 1;
    const at = `step ${steps}`;
    const why =
      mismatch(r.updates, f.updates, f.params, steps, c, `${at} updates`) ??
      mismatch(r.params, f.params, f.params, steps, c, `${at} params`) ??
      (c.slow ? mismatch(slowParams(r.state), slowParams(f.state), f.params, steps, c, `${at} slow`) : null);
    if (why !== null) return why;
  }
  return null;
}

/**
 * The float elements of a state (or tree) mapped by `f(x, k)`, `k` counting the elements mapped;
 * `float32` maps the Float32Array elements only. Everything else is kept as it was.
 */
function mapFloats(x: unknown, f: (x: number, k: number) => number, float32 = false, counter = { k: 0 }): unknown {
  if (isFloatArray(x)) return float32 && !(x instanceof Float32Array) ? x : x.map((v) => f(v, counter.k++));
  if (Array.isArray(x)) return x.map((v: unknown) => mapFloats(v, f, float32, counter));
  if (typeof x !== "object" || x === null) return x;
  if ("shape" in x && "data" in x && isFloatArray(x.data))
    return ndarray(mapFloats(dataOf(x as FloatNdArray), f, float32, counter) as FloatArray, [...(x.shape as number[])]);
  // A record of the params' shapes holds dimensions, not numbers of the optimizer.
  return Object.fromEntries(
    Object.entries(x).map(([key, v]) => [key, key === "shapes" ? v : mapFloats(v, f, float32, counter)]),
  );
}

/** The float32 number next to `x`, towards +infinity if `up`. */
function next32(x: number, up: boolean): number {
  if (x === 0) return up ? 2 ** -149 : -(2 ** -149);
  const f = Float32Array.of(x);
  new Int32Array(f.buffer)[0]! += x > 0 === up ? 1 : -1;
  return f[0]!;
}

/** `x` (a float32 number) moved by `n` float32 ulps, up for n > 0. */
function ulps32(x: number, n: number): number {
  if (!Number.isFinite(x)) return x;
  for (let i = 0; i < Math.abs(n); i++) x = next32(x, n > 0);
  return x;
}

/** The cases whose optimizer keeps nothing in its state, so that a checkpoint of it is its init. */
const STATELESS = new Set(["sgd"]);

/** The cases whose state holds no float but zeros, so that scaling it changes nothing. */
const NO_FLOATS = new Set(["sgd", "multi-steps-sgd-1"]);

/** The cases that cannot notice a state scaled by 1 + 1e-4, and why: they are shown its negation instead. */
const SCALE_BLIND: Readonly<Record<string, string>> = {
  lion: "its step is the sign of a moving average, which a scale factor does not change",
};

describe("checkpoints written by gradtx 0.2.0", () => {
  it("index.json lists exactly the table's cases, and every file is there", () => {
    expect(cases.length).toBeGreaterThan(0);
    expect(index.fixtures.length).toBe(cases.length);
    const names = new Set(readdirSync(dir).filter((name) => name.endsWith(".bin")));
    expect(names.size).toBe(2 * cases.length);
    cases.forEach((c, i) => {
      expect(index.fixtures[i]).toEqual({
        slug: c.slug,
        name: c.name,
        catalogue: c.catalogue ?? null,
        gradtx: FROZEN_VERSION,
        steps: STEPS_BEFORE,
        recipe: c.recipe,
        state: stateFile(c),
        params: paramsFile(c),
      });
      for (const file of [stateFile(c), paramsFile(c)]) {
        expect(existsSync(new URL(file, dir)), file).toBe(true);
        expect(names.has(file), file).toBe(true);
      }
    });
  });

  it.each(cases.map((c) => [c.slug, c] as const))(
    "%s: resumes from the 0.2.0 bytes and continues as an uninterrupted run",
    (_, c) => {
      const tx = c.build();
      const start = initialParams();
      const full = run(tx, start, tx.init(start), 0, STEPS_BEFORE + STEPS_AFTER);
      const stateBytes = read(stateFile(c));
      // A checkpoint that is only the initial state would test nothing but init.
      if (!STATELESS.has(c.slug)) expect(stateBytes).not.toEqual(serializeState(tx.init(start)));

      const params = deserializeParams(read(paramsFile(c)), start);
      expect(mismatch(params, full[STEPS_BEFORE - 1]!.params, params, STEPS_BEFORE, c, "params at M")).toBeNull();
      const state = deserializeState(stateBytes, tx.init(start));
      const rest = run(tx, params, state, STEPS_BEFORE, STEPS_BEFORE + STEPS_AFTER);
      expect(divergence(c, rest, full)).toBeNull();

      // Not vacuous: the continuation moved the params, and slowParams applies where it should.
      const moved = (a: PyTree, b: PyTree) =>
        flatten(a).leaves.some((l, i) => dataOf(l).some((x, k) => x !== dataOf(flatten(b).leaves[i]!)[k]));
      expect(moved(rest[STEPS_AFTER - 1]!.params, params)).toBe(true);
      if (!c.slow) expect(() => slowParams(rest[0]!.state)).toThrow(GradTxError);
    },
  );

  it.each(cases.map((c) => [c.slug, c] as const))(
    "%s: the float32 tolerance absorbs two ulps of noise on every float32 number of every step",
    (_, c) => {
      // What the redesign's float32 arithmetic will do to a run, roughly: every float32 number the
      // optimizer computes lands an ulp or two away. The float64 leaves must not notice unless
      // the table says the case couples its leaves.
      const tx = c.build();
      const noisy: GradientTransformation = {
        init: tx.init,
        update(updates, state, params) {
          const [u, next] = tx.update(updates, state, params);
          const nudge = (x: number, k: number) => ulps32(x, k % 2 === 0 ? 2 : -2);
          return [mapFloats(u, nudge, true) as PyTree, mapFloats(next, nudge, true)];
        },
      };
      const start = initialParams();
      const full = run(tx, start, tx.init(start), 0, STEPS_BEFORE + STEPS_AFTER);
      const perturbed = run(noisy, start, tx.init(start), 0, STEPS_BEFORE + STEPS_AFTER);
      expect(divergence(c, perturbed.slice(STEPS_BEFORE), full)).toBeNull();
    },
  );

  it.each(cases.map((c) => [c.slug, c] as const))(
    "%s: the tolerances notice a checkpoint whose numbers are off by one part in 10^4",
    (_, c) => {
      const tx = c.build();
      const start = initialParams();
      const full = run(tx, start, tx.init(start), 0, STEPS_BEFORE + STEPS_AFTER);
      const params = deserializeParams(read(paramsFile(c)), start);
      const state = deserializeState(read(stateFile(c)), tx.init(start));
      const off = mapFloats(state, c.slug in SCALE_BLIND ? (x) => -x : (x) => x * (1 + 1e-4));
      const bytes = serializeState(state);
      const changed = serializeState(off).some((b, i) => b !== bytes[i]);
      expect(changed).toBe(!NO_FLOATS.has(c.slug));
      if (!changed) return;
      expect(divergence(c, run(tx, params, off, STEPS_BEFORE, STEPS_BEFORE + STEPS_AFTER), full)).not.toBeNull();
    },
  );
});

/** CRC-32 (IEEE, reflected, as zlib's), written out here so that the test does not trust the code it checks. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe("a checkpoint from a future format", () => {
  // The header (src/checkpoints/serialize.ts): magic u32, format version u32, payload length u32, payload,
  // then the CRC-32 of everything before it, all little-endian.
  const c = cases.find((x) => x.slug === "lookahead-adam-interpolate")!;
  const original = read(stateFile(c));
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const withVersion = (version: number): Uint8Array => {
    const b = original.slice();
    view(b).setUint32(4, version, true);
    view(b).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
    return b;
  };

  it("the fixture's header is as documented, and its checksum is the CRC-32 computed here", () => {
    expect(new TextDecoder().decode(original.subarray(0, 4))).toBe("GTXS");
    expect(view(original).getUint32(4, true)).toBe(1);
    expect(view(original).getUint32(8, true)).toBe(original.length - 16);
    expect(view(original).getUint32(original.length - 4, true)).toBe(crc32(original.subarray(0, original.length - 4)));
    // So a re-stamped blob is refused for its version alone: with version 1 it still reads.
    const tx = c.build();
    expect(() => deserializeState(withVersion(1), tx.init(initialParams()))).not.toThrow();
  });

  it("a 0.2.0 layout re-stamped as version 2 is refused: only version 1 is read into today's layout", () => {
    const tx = c.build();
    expect(() => deserializeState(withVersion(2), tx.init(initialParams()))).toThrow(/does not fit the template/);
  });

  it.each([3, 1000])("format version %i, with a valid checksum, is refused naming that version", (version) => {
    const tx = c.build();
    const blob = withVersion(version);
    let error: unknown;
    try {
      deserializeState(blob, tx.init(initialParams()));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GradTxError);
    expect((error as GradTxError).code).toBe("BAD_STATE");
    const message = (error as GradTxError).message;
    expect(message).toMatch(new RegExp(`\\bversion ${version}\\b`));
    expect(message).toContain("upgrade gradtx");
    expect(message).not.toContain("checksum");
  });
});
