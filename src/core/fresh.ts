/**
 * Fresh typed arrays for the results of a step. A small array is a view carved from a shared
 * block, since Node 20 takes about 4 µs to allocate a typed array of 1,000 float32 (its own
 * buffer, and the garbage collector's work for it) and under 1 µs to make a view: a step over
 * 1,000 small leaves makes thousands. Blocks are never reused, so every array starts as zeros,
 * and a block goes once no view of it is held. Large arrays get buffers of their own.
 *
 * @module
 */

/** Arrays of at most this many bytes are carved from blocks. */
const SMALL = 16384;
/** The bytes of one block. */
const BLOCK_BYTES = 262144;

let block = new ArrayBuffer(BLOCK_BYTES);
let next = 0;

/**
 * A zero-filled array of `n` elements, as `new Float32Array(n)` or `new Float64Array(n)` would
 * give, but for a small one a view into a block it shares with other small arrays (its `buffer`
 * is the block's, its `byteOffset` a multiple of 16).
 */
export function freshArray(
  ctor: Float32ArrayConstructor | Float64ArrayConstructor,
  n: number,
): Float32Array | Float64Array {
  const bytes = Math.ceil((n * ctor.BYTES_PER_ELEMENT) / 16) * 16;
  if (bytes > SMALL || bytes === 0) return new ctor(n);
  if (next + bytes > BLOCK_BYTES) {
    block = new ArrayBuffer(BLOCK_BYTES);
    next = 0;
  }
  const out = new ctor(block, next, n);
  next += bytes;
  return out;
}
