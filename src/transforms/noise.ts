/**
 * Gradient noise: `addNoise`, optax's `add_noise`, with its own counter-based generator.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import { asLeafLike, dataOf, flatten, shapesOf, unflatten, type FloatArray, type PyTree } from "../core/pytree.js";
import { checkShapes, increment, stateCount, stateRecord } from "../core/state.js";
import { checkNumber, readOptions } from "../core/validate.js";

/**
 * The state of {@link addNoise}: optax's `AddNoiseState` (`count`, `rng_key`), with the params'
 * shapes. Every field is a plain number, so a checkpoint restores the generator exactly.
 *
 * @since 0.3.0
 */
export interface AddNoiseState extends ShapesState {
  /** Steps taken. */
  readonly count: number;
  /**
   * The generator's key: the seed, an integer in [0, 2^53). A counter-based generator needs no
   * other state, since a step's draws are a function of the key and `count`, so the key never
   * changes (optax splits its key at every step).
   */
  readonly rngKey: number;
}

/** Options of {@link addNoise} (optax's names, camelCased). @since 0.3.0 */
export interface AddNoiseOptions {
  /** The noise's variance at the first step, >= 0. Required, as in optax. */
  readonly eta?: number;
  /** The variance decays as `(count + 1)^-gamma`; a finite number. Required, as in optax. */
  readonly gamma?: number;
  /** The generator's seed, an integer in [0, 2^53). Default 0, optax's when no key is given. */
  readonly seed?: number;
}

/** The keys of {@link AddNoiseOptions}. */
export const ADD_NOISE_KEYS = ["eta", "gamma", "seed"] as const;

const TWO_32 = 4294967296;
const TWO_PI = 2 * Math.PI;

/**
 * Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror and Shaw, 2011, "Parallel random numbers:
 * as easy as 1, 2, 3"): the 64-bit block of counter `(c0, c1)` under key `(k0, k1)`, written into
 * `out`. Only 32-bit additions, rotations and exclusive ors, so it is exact in JavaScript.
 * Exported for its known-answer test; not part of the public API.
 */
export function threefry(k0: number, k1: number, c0: number, c1: number, out: Uint32Array): void {
  const k2 = k0 ^ k1 ^ 0x1bd11bda;
  let x0 = (c0 + k0) | 0;
  let x1 = (c1 + k1) | 0;
  // Five groups of four rounds, unrolled (a loop over the rounds, or a function per group, ran
  // two to three times slower): the rotations alternate between two sets of four, and after
  // each group the key is injected, rotated by one word, with the group's number added.
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + k1) | 0;
  x1 = (x1 + k2 + 1) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 17) | (x1 >>> 15)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 29) | (x1 >>> 3)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 16) | (x1 >>> 16)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 24) | (x1 >>> 8)) ^ x0;
  x0 = (x0 + k2) | 0;
  x1 = (x1 + k0 + 2) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + k0) | 0;
  x1 = (x1 + k1 + 3) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 17) | (x1 >>> 15)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 29) | (x1 >>> 3)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 16) | (x1 >>> 16)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 24) | (x1 >>> 8)) ^ x0;
  x0 = (x0 + k1) | 0;
  x1 = (x1 + k2 + 4) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + k2) | 0;
  x1 = (x1 + k0 + 5) | 0;
  out[0] = x0;
  out[1] = x1;
}

/**
 * Adds `std` times standard normal deviates to `x` into `out`, one tight loop: element `i` of
 * leaf `leaf` takes half of block `floor(i / 2)`, counter `(floor(i / 2), leaf)` under the step's
 * key, through Box and Muller's transform of the block's two 32-bit words. The deviates and the
 * arithmetic are in `out`'s dtype.
 */
function addNormals(
  x: FloatArray,
  out: FloatArray,
  std: number,
  key0: number,
  key1: number,
  leaf: number,
  block: Uint32Array,
): void {
  const n = x.length;
  const f32 = out instanceof Float32Array;
  const s = f32 ? Math.fround(std) : std;
  for (let j = 0; 2 * j < n; j++) {
    threefry(key0, key1, j, leaf, block);
    // u1 in (0, 1], so the logarithm is finite; the angle's uniform in [0, 1).
    const radius = Math.sqrt(-2 * Math.log((block[0]! + 1) / TWO_32));
    const angle = (TWO_PI * block[1]!) / TWO_32;
    const i = 2 * j;
    if (f32) {
      out[i] = Math.fround(x[i]! + Math.fround(s * Math.fround(radius * Math.cos(angle))));
      if (i + 1 < n) out[i + 1] = Math.fround(x[i + 1]! + Math.fround(s * Math.fround(radius * Math.sin(angle))));
    } else {
      out[i] = x[i]! + s * (radius * Math.cos(angle));
      if (i + 1 < n) out[i + 1] = x[i + 1]! + s * (radius * Math.sin(angle));
    }
  }
}

const where = "addNoise";

/** A key of the state: an integer in [0, 2^53), or `BAD_STATE`. */
function rngKeyOf(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw new GradTxError("BAD_STATE", `${where}: rngKey must be an integer in [0, 2^53), got ${String(value)}`);
  return value;
}

/** The barrier that draws the noise: plain TypeScript, one loop per leaf (see {@link addNoise}). */
class AddNoise implements GradientTransformation<AddNoiseState> {
  private readonly block = new Uint32Array(2);
  constructor(
    private readonly eta: number,
    private readonly gamma: number,
    private readonly seed: number,
  ) {}

  init(params: PyTree): AddNoiseState {
    return { count: 0, rngKey: this.seed, shapes: shapesOf(flatten(params)) };
  }

  update(updates: PyTree, state: AddNoiseState): readonly [PyTree, AddNoiseState] {
    const flat = flatten(updates);
    const s = stateRecord<AddNoiseState>(where, state, ["count", "rngKey", "shapes"]);
    const count = stateCount(where, s.count);
    const rngKey = rngKeyOf(s.rngKey);
    checkShapes(`${where}.shapes`, s.shapes, flat);
    const next = increment(count);
    const std = Math.sqrt(this.eta / next ** this.gamma);
    // The step's key: the block of the count under the seed's key (its high and low words).
    const { block } = this;
    threefry(Math.floor(rngKey / TWO_32), rngKey >>> 0, count >>> 0, Math.floor(count / TWO_32), block);
    const key0 = block[0]!;
    const key1 = block[1]!;
    const leaves = flat.leaves.map((leaf, i) => {
      const x = dataOf(leaf);
      const out = new (x instanceof Float32Array ? Float32Array : Float64Array)(x.length);
      addNormals(x, out, std, key0, key1, i, block);
      return asLeafLike(leaf, out);
    });
    return [unflatten(flat.def, leaves), { count: next, rngKey, shapes: s.shapes }];
  }
}

/**
 * Adds Gaussian noise whose variance anneals with the step (Neelakantan et al., 2015, "Adding
 * Gradient Noise Improves Learning for Very Deep Networks"), as optax's `add_noise`:
 *
 * ```
 * t  = count + 1
 * u' = u + sqrt(eta / t^gamma) * z,    z ~ N(0, 1) per element
 * ```
 *
 * **The generator is gradtx's own, so the noise differs from optax's for the same seed**: JAX's
 * PRNG values (its key splitting and its normal sampler) cannot be matched. The draws come from
 * Threefry-2x32 with 20 rounds (Salmon et al., 2011), the counter-based generator of Random123,
 * and JAX's default: a function of (seed, step, leaf, element) with nothing carried from one
 * draw to the next. The step's key is the block of `count` under the seed (high and low 32 bits
 * as the key's words), and element `i` of the `leaf`-th leaf (in the tree's canonical order)
 * takes half of the block of counter `(floor(i / 2), leaf)` under the step's key: Box and
 * Muller's transform of its two words, `u1 = (w0 + 1) / 2^32` and `u2 = w1 / 2^32`, gives
 * `sqrt(-2 ln u1) cos(2 pi u2)` to the even element and `... sin(2 pi u2)` to the odd one. So the
 * noise does not depend on how the work is split, and the state is two plain numbers (`count`
 * and the seed, `rngKey`): a resumed checkpoint continues with the very same bits. With 32-bit
 * uniforms no deviate exceeds `sqrt(64 ln 2) ≈ 6.66` in magnitude.
 *
 * The deviates and the sum are in each leaf's dtype (float32 leaves get float32 deviates). It
 * runs as plain TypeScript between the compiled passes (a barrier): the element expressions
 * have no integer arithmetic or element index to draw from. optax's `key` may be a JAX key; here
 * it is the integer `seed`, which optax still accepts under that name.
 *
 * @param options `eta` and `gamma` are required; see {@link AddNoiseOptions}.
 * @example
 * ```ts
 * import { addNoise, tree } from "gradtx";
 * const zeros = Float64Array.of(0, 0, 0, 0);
 * // With eta = 1 and gamma = 0 the noise is standard normal; with eta = 4 it is twice that.
 * const unit = addNoise({ eta: 1, gamma: 0, seed: 7 });
 * const four = addNoise({ eta: 4, gamma: 0, seed: 7 });
 * const [z] = unit.update(zeros, unit.init(zeros));
 * const [w, state] = four.update(zeros, four.init(zeros));
 * const unitNoise = Array.from(z as Float64Array);
 * tree.allFinite(z); // true
 * Array.from(w as Float64Array); // unitNoise.map((v) => 2 * v)
 * state.count; // 1
 * // The same seed gives the same noise; the next step's differs.
 * const [again] = unit.update(zeros, unit.init(zeros));
 * Array.from(again as Float64Array); // unitNoise
 * const [next] = unit.update(zeros, { ...unit.init(zeros), count: 1 });
 * (next as Float64Array)[0] === unitNoise[0]; // false
 * ```
 * @since 0.3.0
 */
export function addNoise(options: AddNoiseOptions | null): GradientTransformation<AddNoiseState> {
  options = readOptions(where, options, ADD_NOISE_KEYS, {
    hint: "optax's add_noise(eta, gamma, key) is addNoise({ eta: 0.01, gamma: 0.55, seed: 0 })",
  });
  const eta = checkNumber(where, "eta", options.eta, { min: 0 });
  const gamma = checkNumber(where, "gamma", options.gamma);
  const seed = checkNumber(where, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  return new Transformation<AddNoiseState>({ kind: "opaque", tx: new AddNoise(eta, gamma, seed) });
}
