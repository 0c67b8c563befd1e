/**
 * The WebAssembly backend: a {@link Pass} becomes a module generated at run time, whose function
 * `run` runs the pass as a SIMD loop (`f32x4` / `f64x2`) with a scalar loop for the tail, and
 * whose `runs` calls `run` once per entry of a table of leaves, so that a run of many small
 * leaves costs one call from JavaScript.
 * Nothing is downloaded or committed as a binary: the bytes come from this file.
 *
 * The function is `run(buffers: i32 byte addresses..., n: i32, scalars: f64..., results: i32)`
 * (`results` only when the pass reduces): it runs elements `[0, n)` of buffers that start at
 * 16-byte-aligned addresses of the imported memory `env.memory`, and writes the sum of reduction
 * `r` over block `b` (elements `[b BLOCK, (b + 1) BLOCK)`), in float64, at `results + 8 (b R + r)`. Scalars arrive in float64 and are rounded once to the
 * pass's dtype, as the JavaScript executor rounds them.
 *
 * @module
 */
import { isCondition, type Condition, type Expr } from "./expr.js";
import { BLOCK, UNROLL, type Dtype, type Pass } from "./pass.js";

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export const sleb = (n: number): number[] => sleb64(BigInt(n));

/** Signed LEB128 of a 64-bit integer (for i64.const). */
function sleb64(n: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (byte & 0x40) === 0) || (n === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export const utf8 = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
export const vec = (items: readonly number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const f64Bytes = (value: number): number[] => Array.from(new Uint8Array(Float64Array.of(value).buffer));
const f32Bytes = (value: number): number[] => Array.from(new Uint8Array(Float32Array.of(value).buffer));

type Op = Exclude<Expr["op"], "input" | "scalar" | "const" | "select" | "asUpdate"> | Condition["op"];

/** The opcodes of one lane type: a scalar float type, or its SIMD vector. */
interface Lanes {
  readonly type: number;
  /** Bytes per iteration. */
  readonly bytes: number;
  /** A load or store, `at` bytes past the address on the stack. */
  readonly load: (at: number) => number[];
  readonly store: (at: number) => number[];
  readonly ops: Readonly<Record<Op, number[]>>;
  readonly select: number[];
  /** Turns an f64 on the stack into this lane type. */
  readonly fromF64: number[];
  readonly constant: (value: number) => number[];
}

/** Opcodes in the order round32, neg, abs, sqrt, add, sub, mul, div, min, max, eq, ne, lt, gt, le, ge. */
function opTable(codes: readonly number[][]): Record<Op, number[]> {
  const names: Op[] = [
    "round32",
    "neg",
    "abs",
    "sqrt",
    "add",
    "sub",
    "mul",
    "div",
    "min",
    "max",
    "eq",
    "ne",
    "lt",
    "gt",
    "le",
    "ge",
  ];
  return Object.fromEntries(names.map((name, i) => [name, codes[i]!])) as Record<Op, number[]>;
}
const one = (op: number) => [op];
const vectorOps = (round32: number[], first: number[], cmp: number) => [
  round32,
  ...first.map(simd),
  ...[0, 1, 2, 3, 4, 5].map((k) => simd(cmp + k)),
];

const LANES: Record<Dtype, { readonly vector: Lanes; readonly scalar: Lanes; readonly size: number }> = {
  f32: {
    size: 4,
    vector: {
      type: V128,
      bytes: 16,
      load: (at) => [...simd(0x00), 4, ...uleb(at)],
      store: (at) => [...simd(0x0b), 4, ...uleb(at)],
      ops: opTable(vectorOps([], [0xe1, 0xe0, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9], 0x41)),
      select: simd(0x52),
      fromF64: [0xb6, ...simd(0x13)],
      constant: (v) => [0x43, ...f32Bytes(v), ...simd(0x13)],
    },
    scalar: {
      type: F32,
      bytes: 4,
      load: (at) => [0x2a, 2, ...uleb(at)],
      store: (at) => [0x38, 2, ...uleb(at)],
      ops: opTable([
        [],
        ...[0x8c, 0x8b, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60].map(one),
      ]),
      select: [0x1b],
      fromF64: [0xb6],
      constant: (v) => [0x43, ...f32Bytes(v)],
    },
  },
  f64: {
    size: 8,
    vector: {
      type: V128,
      bytes: 16,
      load: (at) => [...simd(0x00), 4, ...uleb(at)],
      store: (at) => [...simd(0x0b), 4, ...uleb(at)],
      ops: opTable(
        vectorOps([...simd(0x5e), ...simd(0x5f)], [0xed, 0xec, 0xef, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5], 0x47),
      ),
      select: simd(0x52),
      fromF64: simd(0x14),
      constant: (v) => [0x44, ...f64Bytes(v), ...simd(0x14)],
    },
    scalar: {
      type: F64,
      bytes: 8,
      load: (at) => [0x2b, 3, ...uleb(at)],
      store: (at) => [0x39, 3, ...uleb(at)],
      ops: opTable([
        [0xb6, 0xbb],
        ...[0x9a, 0x99, 0x9f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66].map(one),
      ]),
      select: [0x1b],
      fromF64: [],
      constant: (v) => [0x44, ...f64Bytes(v)],
    },
  },
};

const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;

type Node = Expr | Condition;

/** A per-step number or a constant: the same in every lane. */
const isUniform = (e: Expr): boolean => e.op === "scalar" || e.op === "const";

/** A min or max with an operand the same in every lane: that operand, and the other one. */
function bounded(e: Node): { readonly uniform: Expr; readonly other: Expr } | undefined {
  if ((e.op !== "min" && e.op !== "max") || !("b" in e)) return undefined;
  if (isUniform(e.b)) return { uniform: e.b, other: e.a };
  if (isUniform(e.a)) return { uniform: e.a, other: e.b };
  return undefined;
}

/** The nodes of the pass's DAG, operands before their users, each once. */
export function topologicalOrder(roots: readonly Node[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const visit = (e: Node): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if ("cond" in e) visit(e.cond);
    if ("a" in e) visit(e.a);
    if ("b" in e) visit(e.b);
    order.push(e);
  };
  roots.forEach(visit);
  return order;
}

/** The roots a pass evaluates per element: its stores' values and its reductions' factors. */
export const passRoots = (pass: Pass): Node[] => [
  ...pass.stores.map((s) => s.value),
  ...pass.reductions.flatMap((r) => [r.a, r.b]),
];

const isOne = (e: Expr): boolean => e.op === "const" && e.value === 1;

/** A reduction's factors other than the constant 1. */
const factorsOf = (r: Pass["reductions"][number]): Expr[] => [r.a, r.b].filter((f) => !isOne(f));

/** The condition a reduction counts, when its one factor other than 1 is `select(c, 1, 0)`. */
function countedCondition(r: Pass["reductions"][number]): Condition | undefined {
  const factors = factorsOf(r);
  const f = factors[0];
  if (factors.length !== 1 || f?.op !== "select") return undefined;
  return isOne(f.a) && f.b.op === "const" && f.b.value === 0 ? f.cond : undefined;
}

/**
 * How far ahead of its vectors a loop touches each input, in bytes: two pages. On an Intel Xeon
 * (AVX-512, 2 cores), compiled clip + Lookahead(Adam) over 1e7 float32 went from 19.2-19.6 to
 * 16.9-17.2 ms on 1 thread and from 10.6 to 9.8 ms on 2; the norm pass alone from 6.4 to
 * 5.1-5.4 ms; no change at 1e5 or 1e6.
 */
const PREFETCH = 8192;

/** The code of the pass's function. */
function functionBody(pass: Pass): number[] {
  const { buffers, scalars, dtype, reductions } = pass;
  const lanes = LANES[dtype];
  const order = topologicalOrder(passRoots(pass));
  const bufferIndex = new Map(buffers.map((name, i) => [name, i]));
  const scalarIndex = new Map(scalars.map((name, i) => [name, i]));
  const nParam = buffers.length;
  const scalarParam = (k: number) => buffers.length + 1 + k;
  const resultsParam = buffers.length + 1 + scalars.length;
  let next = resultsParam + (reductions.length > 0 ? 1 : 0);

  // Locals: loop counters; per node a vector and a scalar form (constants and scalars are set
  // before the loops; conditions are v128 masks and i32 flags); the reductions' accumulators.
  const [offset, vecEnd, end, blockEnd, ahead] = [next++, next++, next++, next++, next++];
  const conditions = order.filter(isCondition);
  const flagOf = new Map(conditions.map((c) => [c, next++]));
  const vectorOf = new Map(order.map((e) => [e, next++]));
  // Per reduction, per unrolled copy: lanes 0-1 and (float32) lanes 2-3 of that copy's vector.
  const accumulators = reductions.map(() => Array.from({ length: UNROLL }, () => [next++, next++] as const));
  // Per reduction: its factors other than 1, and the condition it counts, if it is a count.
  const factorsAt = reductions.map(factorsOf);
  const countedAt = reductions.map(countedCondition);
  const shuffled = next++;
  // Per min or max with a uniform operand, the masks that make pmin / pmax give its bits (see
  // below).
  const masksOf = new Map<
    Node,
    { readonly uniform: Expr; readonly other: Expr; readonly and: number; readonly or: number }
  >();
  for (const e of order) {
    const operands = bounded(e);
    if (operands !== undefined) masksOf.set(e, { ...operands, and: next++, or: next++ });
  }
  const values = order.filter((e) => !isCondition(e));
  const scalarOf = new Map(values.map((e) => [e, next++]));
  const tails = reductions.map(() => next++);
  const locals: number[][] = [
    [...uleb(5 + conditions.length), I32],
    [...uleb(order.length + 2 * UNROLL * reductions.length + 1 + 2 * masksOf.size), V128],
    [...uleb(values.length), lanes.scalar.type],
    [...uleb(reductions.length), F64],
  ].filter((group) => group[0] !== 0);

  // The buffers the pass reads, each once.
  const inputBuffers = [...new Set(order.flatMap((e) => (e.op === "input" ? [bufferIndex.get(e.name)!] : [])))];

  const code: number[] = [];
  const emit = (...bytes: number[]) => code.push(...bytes);
  const local = (op: number, index: number) => emit(op, ...uleb(index));

  // Scalars and constants, in both forms, before the loops.
  for (const e of order) {
    if (e.op !== "scalar" && e.op !== "const") continue;
    for (const [l, slot] of [
      [lanes.vector, vectorOf.get(e)!],
      [lanes.scalar, scalarOf.get(e)!],
    ] as const) {
      if (e.op === "const") emit(...l.constant(e.value));
      else {
        const k = scalarIndex.get(e.name);
        if (k === undefined) throw new Error(`pass reads an undeclared scalar ${e.name}`);
        local(LOCAL_GET, scalarParam(k));
        emit(...l.fromF64);
      }
      local(LOCAL_SET, slot);
    }
  }
  // A lane's min or max with a number c, as pmin / pmax (one x86 instruction, where min and max
  // take about seven: they order NaNs and signed zeros) and two masks: pmin(x, c) is c < x ? c : x,
  // min(x, c) but where c is NaN (then every lane is NaN: or all ones) or -0 (x = +0 gives +0:
  // or the sign bit, which the other lanes, at most -0 or NaN, already have); pmax(x, c) is
  // x < c ? c : x, max(x, c) but where c is NaN or +0 (x = -0 gives -0: and without the sign
  // bit, which the other lanes, at least +0 or NaN, do not need).
  const wide = dtype === "f64";
  const [reinterpret, eq, eqz, ne, splat] = wide ? [0xbd, 0x51, 0x50, 0x62, 0x12] : [0xbc, 0x46, 0x45, 0x5c, 0x11];
  const integer = (n: bigint) => [wide ? 0x42 : 0x41, ...sleb64(wide ? n : BigInt.asIntN(32, n))];
  const sign = wide ? -(2n ** 63n) : -(2n ** 31n);
  for (const [e, { uniform, and, or }] of masksOf) {
    const c = scalarOf.get(uniform)!;
    // and (max only): all ones, or for +0 all but the sign bit.
    if (e.op === "max") {
      emit(...integer(-sign - 1n), ...integer(-1n));
      local(LOCAL_GET, c);
      emit(reinterpret, eqz, 0x1b, ...simd(splat));
      local(LOCAL_SET, and);
    }
    // or: all ones for NaN, else for min of -0 the sign bit, else none.
    emit(...integer(-1n));
    if (e.op === "min") {
      emit(...integer(sign), ...integer(0n));
      local(LOCAL_GET, c);
      emit(reinterpret, ...integer(sign), eq, 0x1b);
    } else emit(...integer(0n));
    local(LOCAL_GET, c);
    local(LOCAL_GET, c);
    emit(ne, 0x1b, ...simd(splat));
    local(LOCAL_SET, or);
  }
  // end = n * size; vecEnd = end rounded down to whole 16-byte vectors.
  local(LOCAL_GET, nParam);
  emit(0x41, ...sleb(lanes.size), 0x6c);
  local(LOCAL_TEE, end);
  emit(0x41, ...sleb(-16), 0x71);
  local(LOCAL_SET, vecEnd);

  // A loop runs `unroll` copies of the body per iteration, copy j at j vectors past `offset`,
  // while whole iterations fit below `limit`.
  const loop = (vector: boolean, limit: number, unroll = 1) => {
    const l = vector ? lanes.vector : lanes.scalar;
    const slotOf = (e: Node) => (vector ? vectorOf.get(e)! : isCondition(e) ? flagOf.get(e)! : scalarOf.get(e)!);
    emit(0x02, 0x40, 0x03, 0x40); // block, loop
    local(LOCAL_GET, offset);
    emit(0x41, ...sleb(l.bytes * unroll), 0x6a);
    local(LOCAL_GET, limit);
    emit(0x4b, 0x0d, 1); // i32.gt_u, br_if 1
    if (vector && unroll > 1) {
      // Each input's byte PREFETCH ahead, read and dropped (within the leaf: else the current
      // one): a stream's hardware prefetch stops at each 4 KiB page, and a loop this long per
      // cache line keeps too few of its own loads in flight to cover the next page's misses.
      // Only the unrolled loop: the one after it runs at most UNROLL - 1 vectors a leaf.
      local(LOCAL_GET, offset);
      emit(0x41, ...sleb(PREFETCH), 0x6a);
      local(LOCAL_TEE, ahead);
      local(LOCAL_GET, offset);
      local(LOCAL_GET, ahead);
      local(LOCAL_GET, end);
      emit(0x49, 0x1b); // i32.lt_u, select
      local(LOCAL_SET, ahead);
      for (const b of inputBuffers) {
        local(LOCAL_GET, b);
        local(LOCAL_GET, ahead);
        emit(0x6a, 0x2d, 0, 0, 0x1a); // i32.add, i32.load8_u, drop
      }
    }
    for (let copy = 0; copy < unroll; copy++) element(vector, l, slotOf, copy);
    local(LOCAL_GET, offset);
    emit(0x41, ...sleb(l.bytes * unroll), 0x6a);
    local(LOCAL_SET, offset);
    emit(0x0c, 0, 0x0b, 0x0b); // br 0, end loop, end block
  };
  const element = (vector: boolean, l: Lanes, slotOf: (e: Node) => number, copy: number) => {
    const at = copy * l.bytes;
    for (const e of order) {
      switch (e.op) {
        case "scalar":
        case "const":
          continue;
        case "input": {
          const b = bufferIndex.get(e.name);
          if (b === undefined) throw new Error(`pass reads an undeclared buffer ${e.name}`);
          local(LOCAL_GET, b);
          local(LOCAL_GET, offset);
          emit(0x6a, ...l.load(at));
          break;
        }
        case "asUpdate":
          throw new Error("asUpdate must be resolved before code generation");
        case "select":
          local(LOCAL_GET, slotOf(e.a));
          local(LOCAL_GET, slotOf(e.b));
          local(LOCAL_GET, slotOf(e.cond));
          emit(...l.select);
          break;
        default: {
          const masked = vector ? masksOf.get(e) : undefined;
          if (masked !== undefined) {
            const { uniform, other, and, or } = masked;
            local(LOCAL_GET, slotOf(other));
            local(LOCAL_GET, slotOf(uniform));
            emit(...simd((e.op === "min" ? 0xea : 0xeb) + (wide ? 0x0c : 0))); // pmin / pmax
            if (e.op === "max") {
              local(LOCAL_GET, and);
              emit(...simd(0x4e));
            }
            local(LOCAL_GET, or);
            emit(...simd(0x50));
            break;
          }
          local(LOCAL_GET, slotOf(e.a));
          if ("b" in e) local(LOCAL_GET, slotOf(e.b));
          emit(...l.ops[e.op]);
        }
      }
      local(LOCAL_SET, slotOf(e));
    }
    // Every value is computed before any store: a buffer may be read and written in place.
    for (const s of pass.stores) {
      local(LOCAL_GET, bufferIndex.get(s.buffer)!);
      local(LOCAL_GET, offset);
      emit(0x6a);
      local(LOCAL_GET, slotOf(s.value));
      emit(...l.store(at));
    }
    reductions.forEach((r, k) => {
      const [acc, acc2] = accumulators[k]![copy]!;
      if (!vector) {
        local(LOCAL_GET, slotOf(r.a));
        if (dtype === "f32") emit(0xbb);
        local(LOCAL_GET, slotOf(r.b));
        if (dtype === "f32") emit(0xbb);
        emit(0xa2);
        local(LOCAL_GET, tails[k]!);
        emit(0xa0);
        local(LOCAL_SET, tails[k]!);
        return;
      }
      const counted = countedAt[k];
      if (counted !== undefined) {
        // A count of a condition adds its mask, as integers: a true lane is -1.
        local(LOCAL_GET, acc);
        local(LOCAL_GET, slotOf(counted));
        emit(...simd(wide ? 0xd1 : 0xb1)); // i64x2.sub / i32x4.sub
        local(LOCAL_SET, acc);
        return;
      }
      // A factor of 1 (a count, or a sum of one factor) is left out: x * 1 is x. A sum of squares
      // (the norms) widens its factor once and multiplies it by itself.
      const factors = factorsAt[k]!;
      const square = factors.length === 2 && slotOf(r.a) === slotOf(r.b);
      const product = (low: boolean, into: number) => {
        if (factors.length === 0) emit(...simd(0x0c), ...f64Bytes(1), ...f64Bytes(1));
        for (const factor of square ? [r.a] : factors) {
          const b = factor.op === "input" ? bufferIndex.get(factor.name) : undefined;
          if (dtype === "f32" && b !== undefined) {
            // A buffer's lanes 0-1 or 2-3, loaded as the low half of a vector (v128.load64_zero)
            // and promoted: one instruction that reads memory (x86's cvtps2pd), where the
            // promotion of a register and the shuffle for lanes 2-3 take the port both use.
            local(LOCAL_GET, b);
            local(LOCAL_GET, offset);
            emit(0x6a, ...simd(0x5d), 3, ...uleb(low ? at : at + 8), ...simd(0x5f));
            continue;
          }
          local(LOCAL_GET, slotOf(factor));
          if (dtype === "f32" && !low) {
            local(LOCAL_TEE, shuffled);
            local(LOCAL_GET, shuffled);
            emit(...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
          }
          if (dtype === "f32") emit(...simd(0x5f));
        }
        if (square) {
          local(LOCAL_TEE, shuffled);
          local(LOCAL_GET, shuffled);
        }
        if (factors.length === 2) emit(...simd(0xf2));
        local(LOCAL_GET, into);
        emit(...simd(0xf0));
        local(LOCAL_SET, into);
      };
      product(true, acc);
      // Float32's lanes 2 and 3, moved down and promoted, go to a second accumulator.
      if (dtype === "f32") product(false, acc2);
    });
  };
  if (reductions.length === 0) {
    loop(true, vecEnd, UNROLL);
    loop(true, vecEnd);
    loop(false, end);
    emit(0x0b);
    const body = [...vec(locals), ...code];
    return [...uleb(body.length), ...body];
  }
  // With reductions, block by block: each block of BLOCK elements sums from zero and stores its
  // sums at results + 8 (b R + r), whatever range of blocks this call was given.
  emit(0x02, 0x40, 0x03, 0x40); // block, loop
  local(LOCAL_GET, offset);
  local(LOCAL_GET, end);
  emit(0x4f, 0x0d, 1); // offset >= end: done
  // blockEnd = min(offset + BLOCK * size, end); vecEnd = offset + ((blockEnd - offset) & -group)
  local(LOCAL_GET, offset);
  emit(0x41, ...sleb(BLOCK * lanes.size), 0x6a);
  local(LOCAL_TEE, blockEnd);
  local(LOCAL_GET, end);
  local(LOCAL_GET, blockEnd);
  local(LOCAL_GET, end);
  emit(0x49); // i32.lt_u
  emit(0x1b); // select
  local(LOCAL_TEE, blockEnd);
  local(LOCAL_GET, offset);
  emit(0x6b, 0x41, ...sleb(-16 * UNROLL), 0x71);
  local(LOCAL_GET, offset);
  emit(0x6a);
  local(LOCAL_SET, vecEnd);
  reductions.forEach((_, k) => {
    for (const a of accumulators[k]!.flat()) {
      emit(...simd(0x0c), ...Array<number>(16).fill(0));
      local(LOCAL_SET, a);
    }
    emit(0x44, ...f64Bytes(0));
    local(LOCAL_SET, tails[k]!);
  });
  loop(true, vecEnd, UNROLL);
  loop(false, blockEnd);
  // Per copy c, t_c = acc_c + acc2_c (float32) or acc_c (float64); T = (t_0 + t_1) + (t_2 + t_3),
  // lane by lane; sum = T[0] + T[1] + tail.
  const pairwise = (terms: readonly (() => void)[], add = 0xf0): void => {
    if (terms.length === 1) return terms[0]!();
    pairwise(terms.slice(0, terms.length / 2), add);
    pairwise(terms.slice(terms.length / 2), add);
    emit(...simd(add));
  };
  reductions.forEach((_, k) => {
    local(LOCAL_GET, resultsParam);
    if (countedAt[k] !== undefined) {
      // The lanes' integer counts, added as integers and converted once: exact, as the float64
      // sum of the same zeros and ones is in any order.
      pairwise(
        accumulators[k]!.map(
          ([acc]) =>
            () =>
              local(LOCAL_GET, acc),
        ),
        wide ? 0xce : 0xae, // i64x2.add / i32x4.add
      );
      local(LOCAL_SET, shuffled);
      for (let lane = 0; lane < (wide ? 2 : 4); lane++) {
        local(LOCAL_GET, shuffled);
        emit(...simd(wide ? 0x1d : 0x1b), lane); // i64x2 / i32x4 extract_lane
        if (lane > 0) emit(wide ? 0x7c : 0x6a); // i64.add / i32.add
      }
      emit(wide ? 0xb9 : 0xb7); // f64.convert_i64_s / f64.convert_i32_s
      local(LOCAL_GET, tails[k]!);
      emit(0xa0);
      emit(0x39, 3, ...uleb(8 * k));
      return;
    }
    pairwise(
      accumulators[k]!.map(([acc, acc2]) => () => {
        local(LOCAL_GET, acc);
        if (dtype === "f32") {
          local(LOCAL_GET, acc2);
          emit(...simd(0xf0));
        }
      }),
    );
    local(LOCAL_TEE, shuffled);
    emit(...simd(0x21), 0);
    local(LOCAL_GET, shuffled);
    emit(...simd(0x21), 1, 0xa0);
    local(LOCAL_GET, tails[k]!);
    emit(0xa0);
    emit(0x39, 3, ...uleb(8 * k));
  });
  local(LOCAL_GET, resultsParam);
  emit(0x41, ...sleb(8 * reductions.length), 0x6a);
  local(LOCAL_SET, resultsParam);
  emit(0x0c, 0, 0x0b, 0x0b); // br 0, end loop, end block
  emit(0x0b);
  const body = [...vec(locals), ...code];
  return [...uleb(body.length), ...body];
}

/** `(i32 x buffers, i32 n, f64 x scalars, i32 results?) -> ()`. */
function signature(pass: Pass): number[] {
  const params = [
    ...Array<number>(pass.buffers.length + 1).fill(I32),
    ...Array<number>(pass.scalars.length).fill(F64),
    ...(pass.reductions.length > 0 ? [I32] : []),
  ];
  return [0x60, ...uleb(params.length), ...params, 0];
}

/** `(i32 table, i32 count, f64 x scalars) -> ()`. */
function tableSignature(pass: Pass): number[] {
  const params = [I32, I32, ...Array<number>(pass.scalars.length).fill(F64)];
  return [0x60, ...uleb(params.length), ...params, 0];
}

/** The 32-bit words of one leaf's entry in a `runs` table: its buffers' addresses, `n`, `results`. */
export const entryWords = (pass: Pass): number => pass.buffers.length + 2;

/**
 * Where an entry of a `runsOwn` table keeps its scalars, in 32-bit words from its start: after
 * the words of {@link entryWords}, at a whole number of 8 bytes.
 */
export const ownScalarsWord = (pass: Pass): number => 2 * Math.ceil(entryWords(pass) / 2);

/** The 32-bit words of one entry in a `runsOwn` table: those, then its scalars, a float64 (two words) each. */
export const ownEntryWords = (pass: Pass): number => ownScalarsWord(pass) + 2 * pass.scalars.length;

/**
 * The code of `runs(table, count, scalars...)`: `run` once per entry of the table (see
 * {@link entryWords}), with the scalars given: one call from JavaScript for a run of leaves. With
 * `own`, the code of `runsOwn(table, count)`, whose entries carry their own scalars (see
 * {@link ownEntryWords}), for leaves whose scalars differ (a trust ratio, a mask's flag): one call
 * per leaf, each passing its scalars, cost more than the leaf's arithmetic.
 */
function tableBody(pass: Pass, own: boolean): number[] {
  const nb = pass.buffers.length;
  const stride = 4 * (own ? ownEntryWords(pass) : entryWords(pass));
  const scalarsAt = 4 * ownScalarsWord(pass);
  // The local after the parameters: the table's end.
  const end = own ? 2 : 2 + pass.scalars.length;
  const load = (word: number) => [LOCAL_GET, 0, 0x28, 2, ...uleb(4 * word)];
  const scalar = (k: number) =>
    own ? [LOCAL_GET, 0, 0x2b, 3, ...uleb(scalarsAt + 8 * k)] : [LOCAL_GET, ...uleb(2 + k)]; // f64.load, or the argument
  const code = [
    ...[LOCAL_GET, 0, LOCAL_GET, 1, 0x41, ...sleb(stride), 0x6c, 0x6a, LOCAL_SET, ...uleb(end)],
    ...[0x02, 0x40, 0x03, 0x40], // block, loop
    ...[LOCAL_GET, 0, LOCAL_GET, ...uleb(end), 0x4f, 0x0d, 1], // table >= end: done
    ...Array.from({ length: nb + 1 }, (_, k) => load(k)).flat(),
    ...pass.scalars.flatMap((_, k) => scalar(k)),
    ...(pass.reductions.length > 0 ? load(nb + 1) : []),
    ...[0x10, 0], // call run
    ...[LOCAL_GET, 0, 0x41, ...sleb(stride), 0x6a, LOCAL_SET, 0],
    ...[0x0c, 0, 0x0b, 0x0b, 0x0b], // br 0, end loop, end block, end
  ];
  const body = [...vec([[1, I32]]), ...code];
  return [...uleb(body.length), ...body];
}

/** The most 64 KiB pages a WebAssembly memory can have. */
const MAX_PAGES = 65536;

/**
 * The bytes of a module that imports its memory as `env.memory` (shared when `shared`, as
 * threads need) and exports the pass as `run`, `runs`, which runs it over a table of leaves with
 * one set of scalars, and `runsOwn`, over a table whose entries carry their own.
 */
export function passModule(pass: Pass, shared: boolean): Uint8Array {
  const limits = shared ? [0x03, ...uleb(1), ...uleb(MAX_PAGES)] : [0x00, ...uleb(1)];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([signature(pass), tableSignature(pass), [0x60, 2, I32, I32, 0]])),
    ...section(2, vec([[...utf8("env"), ...utf8("memory"), 0x02, ...limits]])),
    ...section(3, vec([uleb(0), uleb(1), uleb(2)])),
    ...section(
      7,
      vec([
        [...utf8("run"), 0x00, ...uleb(0)],
        [...utf8("runs"), 0x00, ...uleb(1)],
        [...utf8("runsOwn"), 0x00, ...uleb(2)],
      ]),
    ),
    ...section(10, vec([functionBody(pass), tableBody(pass, false), tableBody(pass, true)])),
  ];
  return Uint8Array.from(bytes);
}

/** 64 KiB: the unit of WebAssembly memory. */
export const PAGE = 65536;

/** The part of the WebAssembly JavaScript API used here (typed locally: the build targets no DOM lib). */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

/** The host's WebAssembly, if it has one with SIMD. */
export const wasmApi: WasmApi | undefined = (() => {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return undefined;
  try {
    // A module with one f32x4 addition: hosts without SIMD refuse it.
    const probe = passModule(
      {
        dtype: "f32",
        buffers: ["x"],
        scalars: [],
        stores: [{ buffer: "x", value: { op: "add", a: { op: "input", name: "x" }, b: { op: "input", name: "x" } } }],
        reductions: [],
      },
      false,
    );
    return api.validate(probe) ? api : undefined;
  } catch {
    return undefined;
  }
})();
