/**
 * Hostile shapes never hang and never overflow the stack: a cyclic value, or a tree or state
 * nested 100,000 deep, passed to any function, throws GradTxError at once (NOT_A_PYTREE for a
 * tree, BAD_STATE for a state). gradtx walks at most MAX_DEPTH (1,000) levels.
 *
 * No test here is timed: each input is built in linear time, and a function that looped on it
 * would be caught by the test timeout.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  deserializeParams,
  deserializeState,
  GradTxError,
  injectHyperparams,
  lookahead,
  masked,
  multiTransform,
  incrementalUpdate,
  periodicUpdate,
  piecewiseConstantSchedule,
  projectBox,
  projectHalfspace,
  projectHyperplane,
  projectL1Ball,
  projectL2Ball,
  projectLinfBall,
  projectNonNegative,
  projectSimplex,
  serializeParams,
  serializeState,
  sgd,
  slowParams,
  tree,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";
import { fingerprint } from "../src/laws/index.js";
import { flatten, MAX_DEPTH } from "../src/core/pytree.js";
import { catalogue } from "./catalogue.js";

type Kind = "array" | "object";

/** `leaf` inside `depth` containers, each an array or an object as `kinds` says (cycling through it). */
function nested(depth: number, kinds: readonly Kind[], leaf: unknown = Float64Array.of(1)): unknown {
  let x = leaf;
  for (let i = 0; i < depth; i++) x = kinds[i % kinds.length] === "array" ? [x] : { a: x };
  return x;
}

/** A chain of `length` containers whose last one holds the one `back` links up (0: itself). */
function cyclic(length: number, back: number, kinds: readonly Kind[]): unknown {
  const nodes: (unknown[] | Record<string, unknown>)[] = [];
  for (let i = 0; i < length; i++)
    nodes.push(kinds[i % kinds.length] === "array" ? [Float64Array.of(i)] : { w: Float64Array.of(i) });
  for (let i = 0; i + 1 < length; i++) {
    const node = nodes[i]!;
    if (Array.isArray(node)) node.push(nodes[i + 1]);
    else node.next = nodes[i + 1];
  }
  const last = nodes[length - 1]!;
  const target = nodes[length - 1 - back]!;
  if (Array.isArray(last)) last.push(target);
  else last.next = target;
  return nodes[0];
}

const kinds = fc.array(fc.constantFrom<Kind>("array", "object"), { minLength: 1, maxLength: 3 });
/** Trees too deep to walk: just past the limit, well past it, and 100,000 deep. */
const tooDeep = fc
  .tuple(fc.constantFrom(MAX_DEPTH + 1, 5000, 100_000), kinds)
  .map(([depth, k]) => ({ what: `${depth} deep (${k.join(",")})`, value: nested(depth, k) }));
/** Cycles of every length, closing anywhere on the way down. */
const cycles = fc
  .tuple(fc.integer({ min: 1, max: 50 }), kinds)
  .chain(([length, k]) =>
    fc
      .integer({ min: 0, max: length - 1 })
      .map((back) => ({ what: `a cycle of ${back + 1} in ${length}`, value: cyclic(length, back, k) })),
  );
const hostile = fc.oneof(tooDeep, cycles);

/** The code `thunk` throws; fails the test if it returns, or throws anything but a GradTxError. */
function codeOf(thunk: () => unknown): string {
  let result: unknown;
  try {
    result = thunk();
  } catch (e) {
    if (e instanceof GradTxError) return e.code;
    throw new Error(`threw ${String(e)} instead of a GradTxError`, { cause: e });
  }
  throw new Error(`returned ${String(result).slice(0, 80)} instead of throwing`);
}

const params = { w: Float64Array.of(1, 2), b: Float32Array.of(3) };
const grads = { w: Float64Array.of(0.5, -0.5), b: Float32Array.of(1) };

describe("trees too deep or cyclic are NOT_A_PYTREE, wherever they go", () => {
  const calls: [string, (t: unknown) => unknown][] = [
    ["flatten", (t) => flatten(t)],
    ["tree.map", (t) => tree.map((x) => x, t as PyTree)],
    ["tree.map (second tree)", (t) => tree.map((x) => x, params, t as PyTree)],
    ["tree.leaves", (t) => tree.leaves(t as PyTree)],
    ["tree.structure", (t) => tree.structure(t as PyTree)],
    ["tree.zerosLike", (t) => tree.zerosLike(t as PyTree)],
    ["tree.add", (t) => tree.add(t as PyTree, params)],
    ["tree.sub", (t) => tree.sub(params, t as PyTree)],
    ["tree.scale", (t) => tree.scale(2, t as PyTree)],
    ["tree.vdot", (t) => tree.vdot(t as PyTree, t as PyTree)],
    ["tree.globalNorm", (t) => tree.globalNorm(t as PyTree)],
    ["tree.allFinite", (t) => tree.allFinite(t as PyTree)],
    ["tree.onesLike", (t) => tree.onesLike(t as PyTree)],
    ["tree.fullLike", (t) => tree.fullLike(t as PyTree, 2)],
    ["tree.mul", (t) => tree.mul(t as PyTree, params)],
    ["tree.div", (t) => tree.div(params, t as PyTree)],
    ["tree.addScale", (t) => tree.addScale(params, 2, t as PyTree)],
    ["tree.norm", (t) => tree.norm(t as PyTree, { ord: 1 })],
    ["tree.sum", (t) => tree.sum(t as PyTree)],
    ["tree.max", (t) => tree.max(t as PyTree)],
    ["tree.min", (t) => tree.min(t as PyTree)],
    ["tree.size", (t) => tree.size(t as PyTree)],
    ["tree.where", (t) => tree.where(true, t as PyTree, params)],
    ["tree.clip", (t) => tree.clip(t as PyTree, 0, 1)],
    ["tree.updateMoment", (t) => tree.updateMoment(t as PyTree, params, 0.9, 2)],
    ["tree.biasCorrection", (t) => tree.biasCorrection(t as PyTree, 0.9, 1)],
    ["incrementalUpdate (new)", (t) => incrementalUpdate(t as PyTree, params, 0.5)],
    ["incrementalUpdate (old)", (t) => incrementalUpdate(params, t as PyTree, 0.5)],
    ["periodicUpdate (new)", (t) => periodicUpdate(t as PyTree, params, 1, 2)],
    ["periodicUpdate (old)", (t) => periodicUpdate(params, t as PyTree, 2, 2)],
    ["projectNonNegative", (t) => projectNonNegative(t as PyTree)],
    ["projectBox", (t) => projectBox(t as PyTree, 0, 1)],
    ["projectBox (bounds)", (t) => projectBox(params, t as PyTree, 1)],
    ["projectHyperplane", (t) => projectHyperplane(t as PyTree, params, 1)],
    ["projectHalfspace (normal)", (t) => projectHalfspace(params, t as PyTree, 1)],
    ["projectSimplex", (t) => projectSimplex(t as PyTree)],
    ["projectL1Ball", (t) => projectL1Ball(t as PyTree)],
    ["projectL2Ball", (t) => projectL2Ball(t as PyTree)],
    ["projectLinfBall", (t) => projectLinfBall(t as PyTree)],
    ["applyUpdates (params)", (t) => applyUpdates(t as PyTree, grads)],
    ["applyUpdates (updates)", (t) => applyUpdates(params, t as PyTree)],
    ["serializeParams", (t) => serializeParams(t as PyTree)],
    ["deserializeParams (template)", (t) => deserializeParams(serializeParams(params), t as PyTree)],
    ["compile (params)", (t) => compile(adam(0.1), t as PyTree)],
    ["masked (mask)", (t) => masked(adam(0.1), t as never)],
    ["multiTransform (labels)", (t) => multiTransform({ a: adam(0.1) }, t as never)],
  ];
  it.each(calls)("%s", (_, call) => {
    fc.assert(
      fc.property(hostile, ({ value }) => {
        const code = codeOf(() => call(value));
        // A mask or a label tree is a hyperparameter, refused when the combinator is built.
        expect(code).toBe(/masked|multiTransform/.test(_) ? "INVALID_HYPERPARAMETER" : "NOT_A_PYTREE");
      }),
      { numRuns: 12 },
    );
  });

  it.each(catalogue.map((entry) => [entry.name, entry.make(entry.lr)] as const))(
    "%s: init and update refuse such params and grads",
    (_, tx) => {
      fc.assert(
        fc.property(hostile, ({ value }) => {
          expect(codeOf(() => tx.init(value as PyTree))).toBe("NOT_A_PYTREE");
          expect(codeOf(() => tx.update(value as PyTree, tx.init(params), params))).toBe("NOT_A_PYTREE");
        }),
        { numRuns: 6 },
      );
    },
  );

  it("a tree exactly MAX_DEPTH levels deep is still a tree, one more is not", () => {
    // Depth counts the containers above the leaf.
    expect(flatten(nested(MAX_DEPTH, ["array"])).leaves).toHaveLength(1);
    expect(() => flatten(nested(MAX_DEPTH + 1, ["object"]))).toThrowError(/nested deeper than 1000 levels/);
    // A cycle is named as one, with the path where it closes.
    const loop: Record<string, unknown> = { w: Float64Array.of(1) };
    loop.self = { inner: loop };
    expect(() => flatten(loop)).toThrowError(/^self\.inner: the tree contains itself \(a cycle\)$/);
  });

  it("a subtree shared by two branches is not a cycle", () => {
    const shared = { w: Float64Array.of(1) };
    expect(flatten({ a: shared, b: shared }).leaves).toHaveLength(2);
    expect(serializeState({ a: shared, b: [shared] }).length).toBeGreaterThan(0);
  });
});

/** Every typed-array leaf of a state replaced by `make()`: a state whose trees are hostile. */
function poison(state: unknown, make: () => unknown): { value: unknown; leaves: number } {
  let leaves = 0;
  const go = (x: unknown): unknown => {
    if (x instanceof Float32Array || x instanceof Float64Array) {
      leaves++;
      return make();
    }
    if (Array.isArray(x)) return x.map(go);
    if (typeof x === "object" && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, go(v)]));
    return x;
  };
  return { value: go(state), leaves };
}

describe("states too deep or cyclic are BAD_STATE, wherever they go", () => {
  const la = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { innerState: "interpolate" }));
  const compiled = chain(clipByGlobalNorm(1), lookahead(adam(0.1)));
  const calls: [string, (s: unknown) => unknown][] = [
    ["slowParams", (s) => slowParams(s)],
    ["slowParams (inside a chain state)", (s) => slowParams([{}, [s]])],
    ["serializeState", (s) => serializeState(s)],
    ["serializeState (inside a state)", (s) => serializeState({ count: 0, inner: s })],
    ["deserializeState (template)", (s) => deserializeState(serializeState(la.init(params)), s)],
    ["update (the whole state)", (s) => la.update(grads, s as never, params)],
    // The pure path (interpolate does not compile) takes the state as it is, and its first step refuses it.
    ["compile (state, pure path)", (s) => compile(la as GradientTransformation<unknown>, params, { state: s }).step()],
    ["compile (state, compiled)", (s) => compile(compiled as GradientTransformation<unknown>, params, { state: s })],
  ];
  it.each(calls)("%s", (_, call) => {
    fc.assert(
      fc.property(hostile, ({ value }) => {
        expect(codeOf(() => call(value))).toBe("BAD_STATE");
      }),
      { numRuns: 12 },
    );
  });

  it.each(catalogue.map((entry) => [entry.name, entry.make(entry.lr)] as const))(
    "%s: update refuses its own state with every tree in it replaced by a hostile one",
    (_, tx) => {
      fc.assert(
        fc.property(hostile, ({ value }) => {
          const { value: state, leaves } = poison(tx.init(params), () => value);
          // A stateless optimizer (sgd without momentum) has no trees in its state to replace.
          if (leaves === 0) return;
          expect(codeOf(() => tx.update(grads, state as never, params))).toBe("BAD_STATE");
        }),
        { numRuns: 4 },
      );
    },
  );

  it("deserializeState stops at MAX_DEPTH in bytes a writer could not have produced", () => {
    // 1,001 nested one-element arrays around a null, with a valid header and checksum.
    const depth = MAX_DEPTH + 1;
    const payload = new Uint8Array(depth * 5 + 1);
    const view = new DataView(payload.buffer);
    for (let i = 0; i < depth; i++) {
      payload[5 * i] = 8; // the array tag
      view.setUint32(5 * i + 1, 1, true); // of one item
    }
    payload[depth * 5] = 0; // null
    const blob = withHeader(payload);
    const template = nested(depth, ["array"], null);
    expect(() => deserializeState(blob, template)).toThrowError(/nested deeper than 1000 levels/);
    // One level less is read back.
    const ok = withHeader(payload.subarray(5));
    expect(deserializeState(ok, nested(depth - 1, ["array"], null))).toEqual(nested(depth - 1, ["array"], null));
  });

  it("fingerprint marks a cycle and refuses a value deeper than MAX_DEPTH", () => {
    const loop: unknown[] = [];
    loop.push(loop);
    expect(fingerprint(loop)).toBe("[<cycle 1>]");
    expect(() => fingerprint(nested(100_000, ["object"]))).toThrowError(GradTxError);
  });
});

/** A state blob around `payload`: "GTXS", version 1, the length, the payload, its CRC-32. */
function withHeader(payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(12 + payload.length + 4);
  const view = new DataView(bytes.buffer);
  bytes.set([0x47, 0x54, 0x58, 0x53], 0);
  view.setUint32(4, 1, true);
  view.setUint32(8, payload.length, true);
  bytes.set(payload, 12);
  view.setUint32(12 + payload.length, crc32(bytes.subarray(0, 12 + payload.length)), true);
  return bytes;
}

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: written from the standard. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe("the remaining TypeErrors", () => {
  it("piecewiseConstantSchedule takes null as no boundaries (optax's None), and refuses what is not a table", () => {
    expect(piecewiseConstantSchedule(0.1, null)(1000)).toBe(0.1);
    for (const junk of [[0.5], new Map([[10, 0.5]]), 3, "x"])
      expect(codeOf(() => piecewiseConstantSchedule(0.1, junk as never))).toBe("INVALID_HYPERPARAMETER");
    // Keys that Number() would quietly read as boundaries.
    for (const key of ["", " 5", "1e3", "0x10", "-0"])
      expect(() => piecewiseConstantSchedule(0.1, { [key]: 0.5 } as never)).toThrowError(
        /a boundary must be an integer >= 0/,
      );
  });

  it("tree.map and tree.scale refuse a non-function and a non-number with GradTxError", () => {
    expect(codeOf(() => tree.map("x" as never, params))).toBe("INVALID_HYPERPARAMETER");
    expect(codeOf(() => tree.map(() => 3 as never, params))).toBe("NOT_A_PYTREE");
    expect(() => tree.map(() => [1, 2] as never, params)).toThrowError(/^b: tree.map: fn must return a leaf/);
    expect(codeOf(() => tree.scale("2" as never, params))).toBe("INVALID_HYPERPARAMETER");
  });

  it("multiTransform and injectHyperparams read each entry once: a getter's second value is never seen", () => {
    let reads = 0;
    const transforms = {
      get a() {
        reads++;
        return reads === 1 ? sgd(0.1) : ("not a transformation" as never);
      },
    };
    const tx = multiTransform(transforms, () => "a");
    const [u] = tx.update(grads, tx.init(params), params);
    expect(reads).toBe(1);
    expect(Array.from((u as { w: Float64Array }).w)).toEqual([-0.05, 0.05]);

    let lrReads = 0;
    const hyperparams = {
      get lr() {
        lrReads++;
        return lrReads === 1 ? 0.1 : ("junk" as never);
      },
    };
    const injected = injectHyperparams((h) => sgd(h.lr), hyperparams);
    const [v, state] = injected.update(grads, injected.init(params), params);
    expect(lrReads).toBe(1);
    expect(state.hyperparams).toEqual({ lr: 0.1 });
    expect(Array.from((v as { w: Float64Array }).w)).toEqual([-0.05, 0.05]);
  });
});
