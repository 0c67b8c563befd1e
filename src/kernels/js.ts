/**
 * The plain-JavaScript backend: runs a {@link Pass} with no generated code (no `eval`, no
 * `new Function`), for hosts without WebAssembly SIMD, and as the second opinion the tests hold
 * the WebAssembly backend to.
 *
 * It evaluates the pass node by node over chunks of {@link BLOCK} elements, each node one tight
 * loop into a chunk of the pass's dtype: a float32 chunk rounds every operation to float32, which
 * for `+ - * /` and `sqrt` computed in float64 is the correctly rounded float32 result, the same
 * as WebAssembly's `f32` operations. Reductions follow the WebAssembly lane order exactly.
 *
 * @module
 */
import { isCondition, type Condition, type Expr } from "./expr.js";
import { BLOCK, UNROLL, type Pass } from "./pass.js";
import { passRoots, topologicalOrder } from "./wasm.js";

/** An array a pass reads or writes (already in the pass's dtype). */
export type PassArray = Float32Array | Float64Array;

/** The arrays of a run of leaves, by buffer: `columns[k][i]` is buffer k of leaf i. */
export type Columns = readonly (readonly PassArray[])[];

/**
 * Runs a pass over a run of leaves. `columns[k]` holds buffer k's array of every leaf (buffers in
 * the order of `pass.buffers`), `leaves` the leaves to run, each over all of its elements (every
 * buffer of a leaf has its length), and `scalars` the values in the order of `pass.scalars`; or,
 * where the leaves' scalars differ, `own` holds them, those of `leaves[j]` at `j S .. j S + S - 1`
 * (`S` scalars), and `scalars` is not read. With reductions, the sum of reduction `r` over block
 * `b` of leaf `i` goes to `results[at[i] + b R + r]`. Each leaf runs as if alone: its blocks start
 * at its first element.
 */
export type PassRunner = (
  columns: Columns,
  leaves: ArrayLike<number>,
  scalars: ArrayLike<number>,
  results?: Float64Array,
  at?: ArrayLike<number>,
  own?: Float64Array,
) => void;

type Node = Expr | Condition;
type Chunk = Float32Array | Float64Array | Uint8Array;

/** The JavaScript runner of `pass`. */
export function jsRunner(pass: Pass): PassRunner {
  const order = topologicalOrder(passRoots(pass));
  const position = new Map<Node, number>(order.map((e, i) => [e, i]));
  const Float = pass.dtype === "f32" ? Float32Array : Float64Array;
  const chunks: Chunk[] = order.map((e) => (isCondition(e) ? new Uint8Array(BLOCK) : new Float(BLOCK)));
  const bufferIndex = new Map(pass.buffers.map((name, i) => [name, i]));
  const scalarIndex = new Map(pass.scalars.map((name, i) => [name, i]));
  const at = (e: Node) => chunks[position.get(e)!]!;
  const lanes = pass.dtype === "f32" ? 4 : 2;

  const runLeaf = (
    columns: Columns,
    leaf: number,
    scalars: ArrayLike<number>,
    results: Float64Array | undefined,
    resultAt: number,
  ) => {
    const n = columns[0]![leaf]!.length;
    for (let s = 0; s < n; s += BLOCK) {
      const len = Math.min(BLOCK, n - s);
      for (const e of order) {
        const out = at(e);
        switch (e.op) {
          case "input":
            out.set(columns[bufferIndex.get(e.name)!]![leaf]!.subarray(s, s + len));
            break;
          case "scalar":
            out.fill(scalars[scalarIndex.get(e.name)!]!, 0, len);
            break;
          case "const":
            out.fill(e.value, 0, len);
            break;
          case "select":
            select(at(e.cond) as Uint8Array, at(e.a) as PassArray, at(e.b) as PassArray, out as PassArray, len);
            break;
          case "neg":
          case "abs":
          case "sqrt":
          case "round32":
            unary(e.op, at(e.a) as PassArray, out as PassArray, len);
            break;
          case "asUpdate":
            throw new Error("asUpdate must be resolved before a pass runs");
          default:
            binary(e.op, at(e.a) as PassArray, at(e.b) as PassArray, out, len);
        }
      }
      // Every value is computed before any store: a buffer may be read and written in place.
      for (const store of pass.stores)
        columns[bufferIndex.get(store.buffer)!]![leaf]!.set((at(store.value) as PassArray).subarray(0, len), s);
      const block = resultAt + (s / BLOCK) * pass.reductions.length;
      pass.reductions.forEach((r, k) => {
        results![block + k] = dot(at(r.a) as PassArray, at(r.b) as PassArray, len, lanes);
      });
    }
  };
  const ns = pass.scalars.length;
  return (columns, leaves, scalars, results, at, own) => {
    for (let j = 0; j < leaves.length; j++) {
      const values = own === undefined ? scalars : own.subarray(j * ns, (j + 1) * ns);
      runLeaf(columns, leaves[j]!, values, results, at?.[leaves[j]!] ?? 0);
    }
  };
}

function select(c: Uint8Array, a: PassArray, b: PassArray, out: PassArray, n: number): void {
  for (let j = 0; j < n; j++) out[j] = c[j] !== 0 ? a[j]! : b[j]!;
}

function unary(op: "neg" | "abs" | "sqrt" | "round32", a: PassArray, out: PassArray, n: number): void {
  if (op === "round32") for (let j = 0; j < n; j++) out[j] = Math.fround(a[j]!);
  else if (op === "neg") for (let j = 0; j < n; j++) out[j] = -a[j]!;
  else if (op === "abs") for (let j = 0; j < n; j++) out[j] = Math.abs(a[j]!);
  else for (let j = 0; j < n; j++) out[j] = Math.sqrt(a[j]!);
}

function binary(op: string, a: PassArray, b: PassArray, out: Chunk, n: number): void {
  switch (op) {
    case "add":
      for (let j = 0; j < n; j++) out[j] = a[j]! + b[j]!;
      return;
    case "sub":
      for (let j = 0; j < n; j++) out[j] = a[j]! - b[j]!;
      return;
    case "mul":
      for (let j = 0; j < n; j++) out[j] = a[j]! * b[j]!;
      return;
    case "div":
      for (let j = 0; j < n; j++) out[j] = a[j]! / b[j]!;
      return;
    case "min":
      for (let j = 0; j < n; j++) out[j] = Math.min(a[j]!, b[j]!);
      return;
    case "max":
      for (let j = 0; j < n; j++) out[j] = Math.max(a[j]!, b[j]!);
      return;
    case "eq":
      for (let j = 0; j < n; j++) out[j] = a[j]! === b[j]! ? 1 : 0;
      return;
    case "ne":
      for (let j = 0; j < n; j++) out[j] = a[j]! !== b[j]! ? 1 : 0;
      return;
    case "lt":
      for (let j = 0; j < n; j++) out[j] = a[j]! < b[j]! ? 1 : 0;
      return;
    case "gt":
      for (let j = 0; j < n; j++) out[j] = a[j]! > b[j]! ? 1 : 0;
      return;
    case "le":
      for (let j = 0; j < n; j++) out[j] = a[j]! <= b[j]! ? 1 : 0;
      return;
    case "ge":
      for (let j = 0; j < n; j++) out[j] = a[j]! >= b[j]! ? 1 : 0;
      return;
  }
}

/** The partial sums of {@link dot}: one per lane of the WebAssembly loop's unrolled vectors. */
const partial = new Float64Array(4 * UNROLL);

/**
 * `sum(a * b)` in float64, in the WebAssembly backend's order: one partial sum per lane of its
 * {@link UNROLL} vectors (element j adds to sum j mod `lanes * UNROLL`); per vector c, lanes 0 and 2
 * then 1 and 3 paired (float32), the vectors' pairs added pairwise, the two lanes added, then the
 * elements past the last whole group of vectors.
 */
function dot(a: PassArray, b: PassArray, n: number, lanes: number): number {
  const group = lanes * UNROLL;
  const whole = n - (n % group);
  const s = partial.fill(0, 0, group);
  for (let j = 0; j < whole; j += group) for (let l = 0; l < group; l++) s[l]! += a[j + l]! * b[j + l]!;
  let tail = 0;
  for (let j = whole; j < n; j++) tail += a[j]! * b[j]!;
  // t[c] per lane, then pairwise over the copies.
  const lane = (l: number): number => {
    const t = (c: number): number => (lanes === 4 ? s[4 * c + l]! + s[4 * c + l + 2]! : s[2 * c + l]!);
    const tree = (from: number, to: number): number =>
      to - from === 1 ? t(from) : tree(from, (from + to) / 2) + tree((from + to) / 2, to);
    return tree(0, UNROLL);
  };
  return lane(0) + lane(1) + tail;
}
