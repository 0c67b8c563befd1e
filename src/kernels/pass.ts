/**
 * A pass: one loop over the elements of a leaf, the unit every backend runs. The executor fuses
 * neighbouring kernels into one pass (their bodies substituted into each other); a reduction
 * ends a pass, since what follows it needs its total.
 *
 * A pass reads and writes named per-element buffers, reads named per-step scalars, and may sum
 * products in float64 (`reductions`). Arithmetic runs in the pass's dtype. A backend evaluates
 * every store's value before it writes any, so a buffer may be read and written by the same pass
 * (in place, element by element).
 *
 * Reductions are summed in blocks of {@link BLOCK} elements, each block in a fixed lane order
 * (one float64 partial sum per lane of {@link UNROLL} vectors, then the tail), so that every
 * backend and every split of the work over threads gives the same block sums; the executor adds
 * the blocks in order.
 *
 * @module
 */
import { exprKey, type Expr } from "./expr.js";

/** Elements per reduction block. A multiple of every vector width. */
export const BLOCK = 4096;

/**
 * 16-byte vectors per iteration of a pass's main loop. A reduction keeps one set of partial sums
 * per vector of the iteration, so that its float64 additions run as independent chains (a single
 * chain is bound by the addition's latency, not by memory).
 */
export const UNROLL = 4;

/** The float types a pass computes in. */
export type Dtype = "f32" | "f64";

/** One loop over the elements of a leaf. */
export interface Pass {
  readonly dtype: Dtype;
  /** The per-element buffers the pass reads (by `input(name)`) or writes, in argument order. */
  readonly buffers: readonly string[];
  /** The per-step scalars, in argument order. */
  readonly scalars: readonly string[];
  /** What the pass writes: `buffer[j] = value(j)`. */
  readonly stores: readonly { readonly buffer: string; readonly value: Expr }[];
  /** Sums of `a * b` over the elements, in float64 (a float32 product is exact in float64). */
  readonly reductions: readonly { readonly a: Expr; readonly b: Expr }[];
}

/** A text key naming what a pass computes: equal keys mean the same generated code. */
export function passKey(pass: Pass): string {
  const roots = [...pass.stores.map((s) => s.value), ...pass.reductions.flatMap((r) => [r.a, r.b])];
  return [
    pass.dtype,
    pass.buffers.join(","),
    pass.scalars.join(","),
    pass.stores.map((s) => s.buffer).join(","),
    String(pass.reductions.length),
    exprKey(roots),
  ].join("|");
}

/**
 * Adds block sums in order with Neumaier's compensation: the total of a reduction, whichever
 * backend or thread produced each block.
 */
export function sumBlocks(blocks: ArrayLike<number>, from = 0, to = blocks.length): number {
  let sum = 0;
  let compensation = 0;
  for (let i = from; i < to; i++) {
    const x = blocks[i]!;
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  // An infinite sum leaves a NaN compensation behind: the sum is the answer then.
  return Number.isFinite(sum) ? sum + compensation : sum;
}
