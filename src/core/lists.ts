/**
 * Plain arrays for the per-step bookkeeping of the executor, built so that their elements kind
 * does not depend on which tier of the JavaScript engine built them. In V8 (Node 20),
 * `xs.map(f)` returns a packed array from the builtin and a holey one from optimized code that
 * inlines it; a loop that was optimized reading one kind is thrown away when it meets the other,
 * and at 1,000 leaves that happened every few steps for hundreds of steps. `push` onto `[]` gives
 * the same kind in every tier.
 *
 * @module
 */

/** `xs.map(f)`, as a packed array in every tier. */
export function mapped<T, U>(xs: readonly T[], f: (x: T, i: number) => U): U[] {
  const out: U[] = [];
  for (let i = 0; i < xs.length; i++) out.push(f(xs[i]!, i));
  return out;
}
