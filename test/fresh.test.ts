/**
 * Fresh arrays: small ones are views into shared blocks, so the laws a fresh `new Float32Array(n)`
 * keeps are checked here: zeros, its own elements (no two arrays overlap), its length and dtype,
 * and, for a block's views, whole vectors apart.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshArray } from "../src/core/fresh.js";

describe("freshArray", () => {
  it("gives zeros of the length and dtype asked for, no two of them sharing an element", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 3000, max: 5000 }))),
          {
            minLength: 1,
            maxLength: 200,
          },
        ),
        (asks) => {
          const arrays = asks.map(([wide, n]) => freshArray(wide ? Float64Array : Float32Array, n));
          arrays.forEach((a, k) => {
            const [wide, n] = asks[k]!;
            expect(a).toBeInstanceOf(wide ? Float64Array : Float32Array);
            expect(a.length).toBe(n);
            expect(a.every((v) => v === 0)).toBe(true);
            expect(a.byteOffset % 16).toBe(0);
          });
          // Each array marks its own elements; any overlap would show as another's mark.
          arrays.forEach((a, k) => a.fill(k + 1));
          arrays.forEach((a, k) => expect(a.every((v) => v === k + 1)).toBe(true));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("gives a large array a buffer of its own: 1e5 float32 start at byte 0 of 400,000 bytes", () => {
    const a = freshArray(Float32Array, 1e5);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(4e5);
  });

  it("carves small arrays from one block: two of 1,000 float32 share a buffer, 4,000 bytes apart", () => {
    const a = freshArray(Float32Array, 1000);
    const b = freshArray(Float32Array, 1000);
    // The second may start a new block when the first filled one.
    if (b.buffer === a.buffer) expect(b.byteOffset - a.byteOffset).toBe(4000);
    else expect(b.byteOffset).toBe(0);
  });
});
