/**
 * A small WebAssembly code generator: elementwise kernels written as expression trees become
 * SIMD loops (`f32x4` / `f64x2`, with a scalar loop for the tail) in a module generated at run
 * time. Nothing is downloaded or committed as a binary: the bytes come from this file.
 *
 * A kernel is a list of statements over one element index `j`: `set` a named local, `store` into
 * a buffer. Expressions read buffers at `j`, named locals, the kernel's scalar arguments and
 * constants, and combine them with `+ - * /` and `sqrt`, each rounded to the kernel's dtype (IEEE
 * 754 round-to-nearest, as in JavaScript for float64). A reduction kernel instead returns the
 * float64 sum of squares of one expression.
 *
 * Every kernel is a function `(buffers: i32 byte addresses..., n: i32, scalars: f64...)` over
 * `n` elements; buffers are 16-byte aligned, so whole vectors of 4 (float32) or 2 (float64)
 * lanes load and store without a split.
 *
 * @module
 */

/** An expression over one element. */
export type Expr =
  | { readonly t: "load"; readonly buf: number }
  | { readonly t: "get"; readonly name: string }
  | { readonly t: "scalar"; readonly index: number }
  | { readonly t: "const"; readonly value: number }
  | { readonly t: "sqrt"; readonly a: Expr }
  | { readonly t: "add" | "sub" | "mul" | "div"; readonly a: Expr; readonly b: Expr };

/** A statement over one element. */
export type Stmt =
  | { readonly t: "set"; readonly name: string; readonly e: Expr }
  | { readonly t: "store"; readonly buf: number; readonly e: Expr };

/** A kernel: elementwise statements, or (with `reduce`) the sum of squares of an expression. */
export interface Kernel {
  readonly name: string;
  readonly dtype: "f32" | "f64";
  readonly buffers: number;
  readonly scalars: number;
  readonly body: readonly Stmt[];
  readonly reduce?: Expr;
}

// Expression builders, so kernels read like the formulas they implement.
export const load = (buf: number): Expr => ({ t: "load", buf });
export const get = (name: string): Expr => ({ t: "get", name });
export const scalar = (index: number): Expr => ({ t: "scalar", index });
export const konst = (value: number): Expr => ({ t: "const", value });
export const sqrt = (a: Expr): Expr => ({ t: "sqrt", a });
export const add = (a: Expr, b: Expr): Expr => ({ t: "add", a, b });
export const sub = (a: Expr, b: Expr): Expr => ({ t: "sub", a, b });
export const mul = (a: Expr, b: Expr): Expr => ({ t: "mul", a, b });
export const div = (a: Expr, b: Expr): Expr => ({ t: "div", a, b });
export const set = (name: string, e: Expr): Stmt => ({ t: "set", name, e });
export const store = (buf: number, e: Expr): Stmt => ({ t: "store", buf, e });

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;
const SIMD = 0xfd;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
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
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const utf8 = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const vec = (items: readonly number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** The opcodes of one lane type: scalar float32/float64, or their SIMD vectors. */
interface Lanes {
  readonly type: number;
  readonly bytes: number; // bytes per step of the loop
  readonly load: number[];
  readonly store: number[];
  readonly add: number[];
  readonly sub: number[];
  readonly mul: number[];
  readonly div: number[];
  readonly sqrt: number[];
  /** Turns an f64 on the stack into this lane type. */
  readonly fromF64: number[];
  /** Turns the value on the stack into f64x2 (vector) or f64 (scalar) squares summed into `acc`. */
  readonly constant: (value: number) => number[];
}

const f64Bytes = (value: number): number[] => Array.from(new Uint8Array(Float64Array.of(value).buffer));
const f32Bytes = (value: number): number[] => Array.from(new Uint8Array(Float32Array.of(value).buffer));
const simd = (op: number): number[] => [SIMD, ...uleb(op)];

const LANES: Record<"f32" | "f64", { vector: Lanes; scalar: Lanes; size: number }> = {
  f32: {
    size: 4,
    vector: {
      type: V128,
      bytes: 16,
      load: [...simd(0x00), 4, 0],
      store: [...simd(0x0b), 4, 0],
      add: simd(0xe4),
      sub: simd(0xe5),
      mul: simd(0xe6),
      div: simd(0xe7),
      sqrt: simd(0xe3),
      fromF64: [0xb6, ...simd(0x13)],
      constant: (v) => [0x43, ...f32Bytes(v), ...simd(0x13)],
    },
    scalar: {
      type: F32,
      bytes: 4,
      load: [0x2a, 2, 0],
      store: [0x38, 2, 0],
      add: [0x92],
      sub: [0x93],
      mul: [0x94],
      div: [0x95],
      sqrt: [0x91],
      fromF64: [0xb6],
      constant: (v) => [0x43, ...f32Bytes(v)],
    },
  },
  f64: {
    size: 8,
    vector: {
      type: V128,
      bytes: 16,
      load: [...simd(0x00), 4, 0],
      store: [...simd(0x0b), 4, 0],
      add: simd(0xf0),
      sub: simd(0xf1),
      mul: simd(0xf2),
      div: simd(0xf3),
      sqrt: simd(0xef),
      fromF64: simd(0x14),
      constant: (v) => [0x44, ...f64Bytes(v), ...simd(0x14)],
    },
    scalar: {
      type: F64,
      bytes: 8,
      load: [0x2b, 3, 0],
      store: [0x39, 3, 0],
      add: [0xa0],
      sub: [0xa1],
      mul: [0xa2],
      div: [0xa3],
      sqrt: [0x9f],
      fromF64: [],
      constant: (v) => [0x44, ...f64Bytes(v)],
    },
  },
};

const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;

/** The body of one kernel function: a SIMD loop over whole vectors, then a scalar loop. */
function kernelBody(kernel: Kernel): number[] {
  const { buffers, scalars, dtype } = kernel;
  const lanes = LANES[dtype];
  // Params: buffers..., n, scalars... Locals: the byte offset and the two loop ends, each scalar
  // as a vector and as a scalar, each named local in both forms, and the reduction's scratch.
  const nParam = buffers;
  const scalarParam = (k: number) => buffers + 1 + k;
  let next = buffers + 1 + scalars;
  const offset = next++;
  const vecEnd = next++;
  const end = next++;
  const scalarVec = Array.from({ length: scalars }, () => next++);
  const scalarOne = Array.from({ length: scalars }, () => next++);
  const names = [...new Set(kernel.body.filter((s) => s.t === "set").map((s) => s.name))];
  const namedVec = new Map(names.map((name) => [name, next++]));
  const namedOne = new Map(names.map((name) => [name, next++]));
  const [xs, pair, acc, acc2] = [next++, next++, next++, next++];
  const [one, accOne] = [next++, next++];
  const locals: number[][] = [
    [3, I32],
    [...uleb(scalars), V128],
    [...uleb(scalars), lanes.scalar.type],
    [...uleb(names.length), V128],
    [...uleb(names.length), lanes.scalar.type],
    [4, V128],
    [2, F64],
  ];

  const code: number[] = [];
  const emit = (...bytes: number[]) => code.push(...bytes);
  const local = (op: number, index: number) => emit(op, ...uleb(index));

  for (let k = 0; k < scalars; k++) {
    local(LOCAL_GET, scalarParam(k));
    emit(...lanes.vector.fromF64);
    local(LOCAL_SET, scalarVec[k]!);
    local(LOCAL_GET, scalarParam(k));
    emit(...lanes.scalar.fromF64);
    local(LOCAL_SET, scalarOne[k]!);
  }
  // end = n * size; vecEnd = end rounded down to whole 16-byte vectors.
  local(LOCAL_GET, nParam);
  emit(0x41, ...sleb(lanes.size), 0x6c);
  local(LOCAL_TEE, end);
  emit(0x41, ...sleb(-16), 0x71);
  local(LOCAL_SET, vecEnd);

  const expr = (e: Expr, l: Lanes, vector: boolean): void => {
    switch (e.t) {
      case "load":
        local(LOCAL_GET, e.buf);
        local(LOCAL_GET, offset);
        emit(0x6a, ...l.load);
        return;
      case "get":
        local(LOCAL_GET, (vector ? namedVec : namedOne).get(e.name)!);
        return;
      case "scalar":
        local(LOCAL_GET, (vector ? scalarVec : scalarOne)[e.index]!);
        return;
      case "const":
        emit(...l.constant(e.value));
        return;
      case "sqrt":
        expr(e.a, l, vector);
        emit(...l.sqrt);
        return;
      default:
        expr(e.a, l, vector);
        expr(e.b, l, vector);
        emit(...l[e.t]);
    }
  };

  /** Squares the f64x2 on the stack and adds it to the vector accumulator `into`. */
  const squareInto = (into: number) => {
    local(LOCAL_TEE, pair);
    local(LOCAL_GET, pair);
    emit(...simd(0xf2));
    local(LOCAL_GET, into);
    emit(...simd(0xf0));
    local(LOCAL_SET, into);
  };

  const reduce = (e: Expr, l: Lanes, vector: boolean) => {
    expr(e, l, vector);
    if (vector && dtype === "f32") {
      // Four float32 lanes are squared in float64: the low pair, then the high pair moved down.
      local(LOCAL_TEE, xs);
      emit(...simd(0x5f));
      squareInto(acc);
      local(LOCAL_GET, xs);
      local(LOCAL_GET, xs);
      emit(...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
      emit(...simd(0x5f));
      squareInto(acc2);
    } else if (vector) {
      squareInto(acc);
    } else {
      if (dtype === "f32") emit(0xbb);
      local(LOCAL_TEE, one);
      local(LOCAL_GET, one);
      emit(0xa2);
      local(LOCAL_GET, accOne);
      emit(0xa0);
      local(LOCAL_SET, accOne);
    }
  };

  const loop = (vector: boolean, limit: number) => {
    const l = vector ? lanes.vector : lanes.scalar;
    emit(0x02, 0x40, 0x03, 0x40); // block, loop
    local(LOCAL_GET, offset);
    local(LOCAL_GET, limit);
    emit(0x4f, 0x0d, 1); // i32.ge_u, br_if 1
    for (const s of kernel.body) {
      if (s.t === "set") {
        expr(s.e, l, vector);
        local(LOCAL_SET, (vector ? namedVec : namedOne).get(s.name)!);
      } else {
        local(LOCAL_GET, s.buf);
        local(LOCAL_GET, offset);
        emit(0x6a);
        expr(s.e, l, vector);
        emit(...l.store);
      }
    }
    if (kernel.reduce !== undefined) reduce(kernel.reduce, l, vector);
    local(LOCAL_GET, offset);
    emit(0x41, ...sleb(l.bytes), 0x6a);
    local(LOCAL_SET, offset);
    emit(0x0c, 0, 0x0b, 0x0b); // br 0, end loop, end block
  };
  loop(true, vecEnd);
  loop(false, end);
  if (kernel.reduce !== undefined) {
    // (acc + acc2) lanes 0 and 1, plus the scalar tail.
    local(LOCAL_GET, acc);
    local(LOCAL_GET, acc2);
    emit(...simd(0xf0));
    local(LOCAL_TEE, pair);
    emit(...simd(0x21), 0);
    local(LOCAL_GET, pair);
    emit(...simd(0x21), 1, 0xa0);
    local(LOCAL_GET, accOne);
    emit(0xa0);
  }
  emit(0x0b);
  const body = [...vec(locals), ...code];
  return [...uleb(body.length), ...body];
}

/** The signature of a kernel: `(i32 x buffers, i32 n, f64 x scalars) -> (f64 if a reduction)`. */
function signature(kernel: Kernel): number[] {
  const params = [...Array<number>(kernel.buffers + 1).fill(I32), ...Array<number>(kernel.scalars).fill(F64)];
  return [0x60, ...uleb(params.length), ...params, ...(kernel.reduce !== undefined ? [1, F64] : [0])];
}

/**
 * The bytes of a module that imports its memory as `env.memory` (of `pages` 64 KiB pages;
 * shared, with that maximum, when `shared`) and exports each kernel under its name.
 */
export function moduleBytes(kernels: readonly Kernel[], pages: number, shared: boolean): Uint8Array {
  const limits = shared ? [0x03, ...uleb(pages), ...uleb(pages)] : [0x00, ...uleb(pages)];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(kernels.map(signature))),
    ...section(2, vec([[...utf8("env"), ...utf8("memory"), 0x02, ...limits]])),
    ...section(3, vec(kernels.map((_, i) => uleb(i)))),
    ...section(7, vec(kernels.map((k, i) => [...utf8(k.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(kernels.map(kernelBody))),
  ];
  return Uint8Array.from(bytes);
}

/** 64 KiB: the unit of WebAssembly memory. */
export const PAGE = 65536;

/** The part of the WebAssembly JavaScript API used here (typed locally: the build targets no DOM lib). */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

/** The host's WebAssembly. */
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
