/**
 * The declaration of an elementwise transformation: the one place its math is written. The
 * executor derives every way of running it (pure, donated, compiled, on any number of threads,
 * on WebAssembly or plain JavaScript) from this record.
 *
 * A kernel declares:
 * - `slots`: its per-leaf state arrays (each a tree shaped like the params, in the params' dtype)
 *   and their initial value (a number, or `"params"`: a copy of the params at init);
 * - `counted`: whether its state keeps a step count;
 * - `hyper`: its hyperparameters, scalars that `injectHyperparams` may feed from a state;
 * - `scalars`: its per-step scalars, computed once per step in float64 from the hyperparameters,
 *   the count (before this step's increment), the reductions and the carried numbers;
 * - `carry`: numbers kept in the state from one step to the next (a running maximum of a norm,
 *   say): `scalars` reads this step's and returns the next under the same names;
 * - `before`: per-step scalars known before the reductions (from the hyperparameters, the count
 *   and the carried numbers), which the reductions may read as well as the body;
 * - `reductions`: sums over the elements that the scalars need (`sum(a * b)` over the whole tree
 *   or per leaf), computed before the body runs;
 * - `reads`: per-element inputs that are not state, which whoever runs the kernel binds (the
 *   gradient a node saw before its inner transformation ran, say);
 * - `body`: the per-element update and the slots' next values, as {@link Expr}s of the incoming
 *   update `x`, the params `p` (with `readsParams`), the slots, the reads and the scalars.
 *
 * @module
 */
import type { Flat } from "../core/pytree.js";
import { exprKey, gt, input, scalar, select, type Expr } from "./expr.js";

/** The per-element values a body reads: the update `x`, the params `p` and the slots, by name. */
export type Inputs<Slot extends string> = { readonly x: Expr; readonly p: Expr } & { readonly [K in Slot]: Expr };

/** The per-step scalars a body reads, by name. */
export type Scalars<Name extends string> = { readonly [K in Name]: Expr };

/**
 * A reduction over the tree's elements (`"tree"`) or each leaf's (`"leaf"`): `sum(a * b)` of two
 * expressions (`of`), or the Euclidean norm of the update or the params (`norm`), which stays
 * finite where the sum of squares would overflow.
 */
export type Reduction<Slot extends string> =
  | {
      readonly over: "tree" | "leaf";
      /** The two factors, of the inputs and of the scalars `before` gives (and the hyperparameters). */
      readonly of: (v: Inputs<Slot>, s: Scalars<string>) => readonly [Expr, Expr];
    }
  | { readonly over: "tree" | "leaf"; readonly norm: "x" | "p" };

/** What a body returns: the update, and the next value of every slot. */
export type Body<Slot extends string> = { readonly update: Expr } & { readonly [K in Slot]: Expr };

/** The declaration of an elementwise transformation. */
export interface KernelSpec<
  Slot extends string = string,
  Hyper extends string = string,
  Scalar extends string = string,
  Reduced extends string = string,
  Read extends string = string,
> {
  /** The transformation's name, for errors (`scaleByAdam`). */
  readonly name: string;
  /** Per-leaf state arrays and their initial values: a number, or `"params"` for a copy of the params. */
  readonly slots: { readonly [K in Slot]: number | "params" };
  /** Whether the state keeps a step `count`. */
  readonly counted: boolean;
  /** Whether the body reads the params (then `update` needs them: `MISSING_PARAMS`). */
  readonly readsParams: boolean;
  /** The hyperparameters (validated numbers). */
  readonly hyper: { readonly [K in Hyper]: number };
  /** Sums over the elements that the scalars need. */
  readonly reductions: { readonly [K in Reduced]: Reduction<Slot | Read> };
  /**
   * Per-element inputs that are not state, read by name like the slots: the op that runs the
   * kernel binds one array per leaf to each (converted to the leaf's compute dtype).
   */
  readonly reads?: readonly Read[];
  /**
   * The per-step scalars in float64, from the hyperparameters, the count before this step's
   * increment, the reductions (a leaf's own sums for `"leaf"` reductions) and the carried
   * numbers; with `carry`, they include the next carried numbers, under their names.
   */
  readonly scalars: (
    hyper: { readonly [K in Hyper]: number },
    count: number,
    reduced: { readonly [K in Reduced]: number },
    carried: Readonly<Record<string, number>>,
  ) => { readonly [K in Scalar]: number };
  /**
   * Numbers the state keeps from step to step, beside the slots, with their initial values (a
   * number, or one computed from the params at init). Only with `"tree"` reductions: there is
   * one number per state, not one per leaf.
   */
  readonly carry?: { readonly [name: string]: number | ((params: Flat) => number) };
  /**
   * Per-step scalars known before the reductions run, in float64, from the hyperparameters, the
   * count and the carried numbers: the reductions' factors may read them.
   */
  readonly before?: (
    hyper: { readonly [K in Hyper]: number },
    count: number,
    carried: Readonly<Record<string, number>>,
  ) => { readonly [K in Scalar]?: number };
  /**
   * Scalars that differ by leaf but not by step (a mask's flag, say), from the params (or the
   * updates when there are none), as one record per leaf with the names of `leafScalars`.
   */
  readonly perLeaf?: (tree: Flat) => readonly { readonly [K in Scalar]?: number }[];
  /** The names `perLeaf` gives. */
  readonly leafScalars?: readonly Scalar[];
  /**
   * For a kernel without slots: whether, with these scalars (a leaf's), it leaves the update as
   * it is. The executor then skips it for that leaf, and an update no kernel touched comes back
   * as the very same leaf (a clip below its threshold, a leaf a mask leaves out).
   */
  readonly identity?: (s: { readonly [K in Hyper | Scalar]: number }) => boolean;
  /**
   * Per-leaf values the state keeps as a plain array in leaf order (zeroNans' `foundNan`): each
   * `initial` at init, then after every step each leaf's value from that leaf's scalars. They are
   * written, never read back; the array's length is checked against the leaves, and a kernel
   * without slots that keeps a record keeps no `shapes`.
   */
  readonly record?: {
    readonly name: string;
    readonly initial: unknown;
    readonly of: (s: { readonly [K in Hyper | Scalar]: number }) => unknown;
  };
  /** The per-element body. */
  readonly body: (v: Inputs<Slot | Read>, s: Scalars<Hyper | Scalar>) => Body<Slot>;
}

/** A declaration with what it leaves out filled in: no slots, no count, no params, no reductions. */
export function declare<
  Slot extends string = never,
  Hyper extends string = never,
  Scalar extends string = never,
  Reduced extends string = never,
  Read extends string = never,
>(
  spec: Pick<KernelSpec<Slot, Hyper, Scalar, Reduced, Read>, "name" | "body"> &
    Partial<KernelSpec<Slot, Hyper, Scalar, Reduced, Read>>,
): KernelSpec {
  return {
    slots: {} as { readonly [K in Slot]: number },
    counted: false,
    readsParams: false,
    hyper: {} as { readonly [K in Hyper]: number },
    reductions: {} as { readonly [K in Reduced]: Reduction<Slot | Read> },
    scalars: () => ({}) as { readonly [K in Scalar]: number },
    ...spec,
  } as unknown as KernelSpec;
}

/** A kernel with its body built once, as the executor consumes it. */
export interface Kernel {
  /**
   * What the kernel computes, as a number: kernels of one code (see {@link codeKey}) share it,
   * so that a kernel built again from the same declaration runs the passes built for the first.
   */
  readonly id: number;
  readonly spec: KernelSpec;
  readonly slotNames: readonly string[];
  /** The names of `spec.reads`, sorted: the order in which an op binds their arrays. */
  readonly readNames: readonly string[];
  readonly reductionNames: readonly string[];
  /** The body over the canonical inputs `x`, `p`, `slot:<name>` and scalars `<name>`. */
  readonly update: Expr;
  readonly next: Readonly<Record<string, Expr>>;
  /** By slot, whether the body leaves it as it is (see {@link keepsSlot}). */
  readonly keeps: readonly boolean[];
  /** The reductions over the canonical inputs. */
  readonly reductions: readonly {
    readonly name: string;
    readonly over: "tree" | "leaf";
    readonly a: Expr;
    readonly b: Expr;
    /** For a norm: which input it is the norm of. */
    readonly norm: "x" | "p" | undefined;
  }[];
}

/** Canonical input names of a kernel's body (a read is named as a slot is), before the executor renames them per pass. */
export const X = "x";
export const P = "p";
export const slotInput = (name: string): string => `slot:${name}`;

/**
 * Whether the body leaves slot `name` as it is (DoG's initial params): its next value is the
 * slot itself. A pass then never writes it, and the next state holds the very same array.
 */
function keepsSlot(kernel: Pick<Kernel, "next">, name: string): boolean {
  const e = kernel.next[name]!;
  return e.op === "input" && e.name === slotInput(name);
}

/** Builds a kernel's body once, over canonical inputs. */
export function buildKernel(spec: KernelSpec): Kernel {
  const slotNames = Object.keys(spec.slots).sort();
  const readNames = [...(spec.reads ?? [])].sort();
  const reductionNames = Object.keys(spec.reductions).sort();
  const inputs = {
    x: input(X),
    p: input(P),
    ...Object.fromEntries([...slotNames, ...readNames].map((n) => [n, input(slotInput(n))])),
  };
  // Any name the body reads is a scalar; the executor supplies its value at each step.
  const named = new Map<string, Expr>();
  const scalars = new Proxy({} as Record<string, Expr>, {
    get: (_, key) => {
      const name = String(key);
      if (!named.has(name)) named.set(name, scalar(name));
      return named.get(name);
    },
  });
  if (spec.carry !== undefined && Object.values(spec.reductions).some((r) => r.over === "leaf"))
    throw new Error(`${spec.name}: carried numbers need tree reductions (one number per state)`);
  const body = spec.body(inputs as Inputs<string>, scalars);
  const reductions = reductionNames.map((name) => {
    const r = spec.reductions[name]!;
    if ("norm" in r) {
      const of = inputs[r.norm];
      return { name, over: r.over, a: of, b: of, norm: r.norm };
    }
    const [a, b] = r.of(inputs as Inputs<string>, scalars);
    return { name, over: r.over, a, b, norm: undefined };
  });
  const code = {
    slotNames,
    readNames,
    update: body.update,
    next: Object.fromEntries(slotNames.map((n) => [n, body[n]!])),
    reductions,
  };
  const keeps = slotNames.map((name) => keepsSlot(code, name));
  return { id: idOf(code), spec, reductionNames, keeps, ...code };
}

/** Kernel ids by code (see {@link Kernel.id}). */
const codeIds = new Map<string, number>();

/** The id of what a kernel computes. */
function idOf(code: Pick<Kernel, "update" | "slotNames" | "readNames" | "next" | "reductions">): number {
  const key = codeKey(code);
  let id = codeIds.get(key);
  if (id === undefined) codeIds.set(key, (id = codeIds.size));
  return id;
}

/** The scalar a {@link gated} kernel reads: 1 to move its slots on, 0 to keep them. */
export const GATE = "gate";

/** The gated code of each kernel code, by id: built once. */
const gatedCode = new Map<number, Pick<Kernel, "id" | "next">>();

/**
 * `kernel` with its slots behind the scalar {@link GATE}: each slot's next value is
 * `gate > 0 ? next : slot`, element by element in the kernel's own pass, so that a step that must
 * not move the state (applyIfFinite's skipped step) still runs in place and leaves every slot's
 * bits as they were. The update is the kernel's either way; the executor supplies the gate.
 */
export function gated(kernel: Kernel): Kernel {
  if (kernel.slotNames.length === 0) return kernel;
  let code = gatedCode.get(kernel.id);
  if (code === undefined) {
    const on = gt(scalar(GATE), 0);
    const next = Object.fromEntries(
      kernel.slotNames.map((name, s) => [
        name,
        kernel.keeps[s] ? kernel.next[name]! : select(on, kernel.next[name]!, input(slotInput(name))),
      ]),
    );
    code = { id: idOf({ ...kernel, next }), next };
    gatedCode.set(kernel.id, code);
  }
  return { ...kernel, ...code };
}

/**
 * A text key of what a kernel computes: its slots, its reads and the expressions of its body and
 * reductions. Kernels with equal keys run the same passes, whatever their scalars' values: a
 * transformation rebuilt with new hyperparameters has the key of the first one built.
 */
export function codeKey(kernel: Pick<Kernel, "update" | "slotNames" | "readNames" | "next" | "reductions">): string {
  const roots = [
    kernel.update,
    ...kernel.slotNames.map((n) => kernel.next[n]!),
    ...kernel.reductions.flatMap((r) => [r.a, r.b]),
  ];
  return `${kernel.slotNames.join(",")}|${kernel.readNames.join(",")}|${kernel.reductions.length}|${exprKey(roots)}`;
}
