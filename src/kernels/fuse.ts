/**
 * Fusion: neighbouring kernels become one pass. Each kernel's `x` is the previous kernel's
 * update, substituted into its body, so `scaleByAdam, scaleByLearningRate` is one loop that
 * writes the moments and the final update.
 *
 * A reduction needs every element before its kernel can run, so the executor cuts a run of
 * kernels into stages at each kernel that reduces: a stage's pass also computes, over the value
 * it ends with, the sums of the first kernel of the next stage. `clipByGlobalNorm, scaleByAdam,
 * scaleByLearningRate` is a norm pass over the gradient, then one fused pass.
 *
 * Buffers of a pass: `in` (the stage's input), `out` (its result), `p` (the params), `k.slot` and
 * `k.slot'` (kernel `k`'s slot, read and written). Scalars are `k.name`.
 *
 * @module
 */
import type { Condition, Expr } from "./expr.js";
import { P, slotInput, X, type Kernel } from "./kernel.js";
import type { Dtype, Pass } from "./pass.js";

/** How a leaf's dtypes shape its passes. */
export interface LeafTypes {
  /** The dtype the leaf's arithmetic runs in. */
  readonly compute: Dtype;
  /** The dtype of the leaf's updates (narrower than `compute` only for mixed-dtype leaves). */
  readonly update: Dtype;
}

type Node = Expr | Condition;

/**
 * One node per distinct expression of a pass: a node equal to one made before (the same
 * operation on the same operands, the same input, scalar or constant) is that node, so that a
 * subexpression two kernels, a body and its reductions, or two reductions build each on their
 * own is computed once per element. Values do not change: the same expression gives the same bits.
 */
function interner(): (e: Node) => Node {
  const nodes = new Map<string, Node>();
  const ids = new Map<Node, number>();
  const id = (e: Node) => ids.get(e)!;
  return (e) => {
    const known = ids.get(e);
    if (known !== undefined) return e;
    let key: string = e.op;
    if (e.op === "input" || e.op === "scalar") key += `|${e.name}`;
    else if (e.op === "const") key += `|${Object.is(e.value, -0) ? "-0" : String(e.value)}`;
    if ("cond" in e) key += `|${id(e.cond)}`;
    if ("a" in e) key += `|${id(e.a)}`;
    if ("b" in e) key += `|${id(e.b)}`;
    const same = nodes.get(key);
    if (same !== undefined) return same;
    nodes.set(key, e);
    ids.set(e, ids.size);
    return e;
  };
}

/** Renames a kernel's canonical inputs and scalars into a pass, resolving `asUpdate`. */
function renamer(k: number | string, x: Expr, types: LeafTypes, intern: (e: Node) => Node): (e: Expr) => Expr {
  const memo = new Map<Node, Node>();
  const visit = (e: Node): Node => {
    const seen = memo.get(e);
    if (seen !== undefined) return seen;
    let out: Node;
    switch (e.op) {
      case "input":
        out = e.name === X ? x : e.name === P ? e : { op: "input", name: `${k}.${e.name.slice(slotInput("").length)}` };
        break;
      case "scalar":
        out = { op: "scalar", name: `${k}.${e.name}` };
        break;
      case "const":
        out = e;
        break;
      case "asUpdate":
        out = types.update === "f32" && types.compute === "f64" ? { op: "round32", a: visit(e.a) as Expr } : visit(e.a);
        break;
      case "select":
        out = { op: "select", cond: visit(e.cond) as Condition, a: visit(e.a) as Expr, b: visit(e.b) as Expr };
        break;
      default:
        out = "b" in e ? { ...e, a: visit(e.a) as Expr, b: visit(e.b) as Expr } : { ...e, a: visit(e.a) as Expr };
    }
    out = intern(out);
    memo.set(e, out);
    return out;
  };
  return (e) => visit(e) as Expr;
}

/** The buffers and scalars an expression set reads, in first-seen order. */
function reads(roots: readonly Node[]): { buffers: string[]; scalars: string[] } {
  const buffers = new Set<string>();
  const scalars = new Set<string>();
  const seen = new Set<Node>();
  const visit = (e: Node): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.op === "input") buffers.add(e.name);
    else if (e.op === "scalar") scalars.add(e.name);
    if ("cond" in e) visit(e.cond);
    if ("a" in e) visit(e.a);
    if ("b" in e) visit(e.b);
  };
  roots.forEach(visit);
  return { buffers: [...buffers], scalars: [...scalars] };
}

/**
 * The pass of one stage for one leaf: `kernels` (each with its position `k` in the run) fused,
 * writing `out` when there are any, and computing `reduce`'s sums over the value the stage ends
 * with. With `apply`, it instead adds the result to the params in place (`p' = p + u`, as
 * `applyUpdates` computes it), and the update itself is not stored; without `store`, only the
 * sums are computed (a stage of kernels without slots, which the next stage computes again).
 * Undefined when there is nothing to do: the value passes as it is.
 */
export function fuse(
  kernels: readonly { readonly k: number; readonly kernel: Kernel }[],
  reduce: { readonly k: number; readonly kernel: Kernel } | undefined,
  types: LeafTypes,
  apply = false,
  store = true,
): Pass | undefined {
  const intern = interner();
  let x = intern({ op: "input", name: "in" }) as Expr;
  const stores: { buffer: string; value: Expr }[] = [];
  for (const { k, kernel } of kernels) {
    const rename = renamer(k, x, types, intern);
    // A slot the body leaves as it is is not written: its array goes on into the next state.
    kernel.slotNames.forEach((slot, s) => {
      if (!kernel.keeps[s]) stores.push({ buffer: `${k}.${slot}'`, value: rename(kernel.next[slot]!) });
    });
    x = rename(kernel.update);
  }
  // Applied to the params, the update itself is not kept: nobody reads it.
  if (kernels.length > 0 && !apply && store) stores.push({ buffer: "out", value: x });
  if (apply) {
    const u = types.update === "f32" && types.compute === "f64" ? (intern({ op: "round32", a: x }) as Expr) : x;
    const p = intern({ op: "input", name: P }) as Expr;
    stores.push({ buffer: "p'", value: intern({ op: "add", a: p, b: u }) as Expr });
  }
  const reductions =
    reduce === undefined
      ? []
      : reduce.kernel.reductions.map((r) => {
          const rename = renamer(reduce.k, x, types, intern);
          return { a: rename(r.a), b: rename(r.b) };
        });
  if (stores.length === 0 && reductions.length === 0) return undefined;
  const used = reads([...stores.map((s) => s.value), ...reductions.flatMap((r) => [r.a, r.b])]);
  const written = stores.map((s) => s.buffer).filter((b) => !used.buffers.includes(b));
  return { dtype: types.compute, buffers: [...used.buffers, ...written], scalars: used.scalars, stores, reductions };
}
