/**
 * Element expressions: the per-element body of an elementwise transformation, written once as
 * data, so that every backend (WebAssembly SIMD, the plain-JavaScript executor) runs the same
 * formula with the same roundings.
 *
 * An expression reads the element's inputs (`x`, the incoming update; `p`, the params; the
 * transformation's state slots), its per-step scalars and constants, and combines them with
 * IEEE 754 operations, each rounded to the leaf's dtype: `+ - * /`, `sqrt`, `min`, `max`, `abs`,
 * `neg`, and `select` on a comparison. Nothing else: no transcendental functions per element
 * (those belong in the per-step scalars, computed once in float64), and no fused multiply-add,
 * so that JavaScript and WebAssembly round alike.
 *
 * Expressions are plain objects and may share subexpressions: a backend evaluates each node once
 * per element.
 *
 * @module
 */

/**
 * An operation on one operand. `round32` rounds to float32 (a no-op in a float32 pass);
 * `asUpdate` rounds to the dtype of the leaf's updates, which the executor resolves per leaf to
 * `round32` or nothing (a body uses it where it must see the update exactly as the caller will).
 */
export type UnaryOp = "neg" | "abs" | "sqrt" | "round32" | "asUpdate";
/** An arithmetic operation on two operands. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "min" | "max";
/** A comparison: true or false per element, read only by `select`. */
export type CompareOp = "lt" | "le" | "gt" | "ge" | "eq" | "ne";

/** A per-element value. */
export type Expr =
  | { readonly op: "input"; readonly name: string }
  | { readonly op: "scalar"; readonly name: string }
  | { readonly op: "const"; readonly value: number }
  | { readonly op: UnaryOp; readonly a: Expr }
  | { readonly op: BinaryOp; readonly a: Expr; readonly b: Expr }
  | { readonly op: "select"; readonly cond: Condition; readonly a: Expr; readonly b: Expr };

/** A per-element truth value: `a op b`. */
export interface Condition {
  readonly op: CompareOp;
  readonly a: Expr;
  readonly b: Expr;
}

/** Whether a node is a {@link Condition} (a truth value) rather than a number. */
export const isCondition = (e: Expr | Condition): e is Condition =>
  e.op === "eq" || e.op === "ne" || e.op === "lt" || e.op === "gt" || e.op === "le" || e.op === "ge";

/** An operand: an expression, or a number taken as a constant. */
export type Operand = Expr | number;

const lift = (e: Operand): Expr => (typeof e === "number" ? { op: "const", value: e } : e);
const binary =
  (op: BinaryOp) =>
  (a: Operand, b: Operand): Expr => ({ op, a: lift(a), b: lift(b) });
const compare =
  (op: CompareOp) =>
  (a: Operand, b: Operand): Condition => ({ op, a: lift(a), b: lift(b) });

/** A per-element input, by name. */
export const input = (name: string): Expr => ({ op: "input", name });
/** A per-step scalar, by name. */
export const scalar = (name: string): Expr => ({ op: "scalar", name });
/** A constant (rounded to the leaf's dtype). */
export const constant = (value: number): Expr => ({ op: "const", value });

export const add = binary("add");
export const sub = binary("sub");
export const mul = binary("mul");
export const div = binary("div");
/** The smaller operand; NaN if either is NaN, and -0 below +0 (as `Math.min`). */
export const min = binary("min");
/** The larger operand; NaN if either is NaN, and +0 above -0 (as `Math.max`). */
export const max = binary("max");
export const neg = (a: Operand): Expr => ({ op: "neg", a: lift(a) });
export const abs = (a: Operand): Expr => ({ op: "abs", a: lift(a) });
export const sqrt = (a: Operand): Expr => ({ op: "sqrt", a: lift(a) });
/** `a` rounded to the dtype of the leaf's updates, as the caller of `update` will see it. */
export const asUpdate = (a: Expr): Expr => ({ op: "asUpdate", a });

export const lt = compare("lt");
export const le = compare("le");
export const gt = compare("gt");
export const ge = compare("ge");
export const eq = compare("eq");
export const ne = compare("ne");

/** `cond ? a : b`, per element. */
export const select = (cond: Condition, a: Operand, b: Operand): Expr => ({
  op: "select",
  cond,
  a: lift(a),
  b: lift(b),
});

/** `sign(a)`: -1, 0 (keeping the zero's sign) or 1, and NaN for NaN, as `jnp.sign`. */
export const sign = (a: Expr): Expr => select(gt(a, 0), 1, select(lt(a, 0), -1, a));

/** Whether `a` is finite: `a - a` is 0 for finite numbers and NaN for infinities and NaN. */
export const isFinite = (a: Expr): Condition => eq(sub(a, a), 0);

/** `lo <= a <= hi`, clamped (NaN stays NaN). */
export const clamp = (a: Expr, lo: Operand, hi: Operand): Expr => min(max(a, lo), hi);

/**
 * A stable text key of an expression DAG (shared nodes are written once and referred to by
 * number): equal keys mean the same computation, so generated code can be cached by it.
 */
export function exprKey(roots: readonly (Expr | Condition)[]): string {
  const ids = new Map<object, number>();
  const out: string[] = [];
  const visit = (e: Expr | Condition): number => {
    const seen = ids.get(e);
    if (seen !== undefined) return seen;
    let text: string;
    switch (e.op) {
      case "input":
      case "scalar":
        text = `${e.op}:${e.name}`;
        break;
      case "const":
        text = `c:${Object.is(e.value, -0) ? "-0" : String(e.value)}`;
        break;
      case "neg":
      case "abs":
      case "sqrt":
      case "round32":
      case "asUpdate":
        text = `${e.op}(${visit(e.a)})`;
        break;
      case "select":
        text = `sel(${visit(e.cond)},${visit(e.a)},${visit(e.b)})`;
        break;
      default:
        text = `${e.op}(${visit(e.a)},${visit(e.b)})`;
    }
    const id = out.length;
    out.push(text);
    ids.set(e, id);
    return id;
  };
  const roots_ = roots.map(visit);
  return `${out.join(";")}|${roots_.join(",")}`;
}
