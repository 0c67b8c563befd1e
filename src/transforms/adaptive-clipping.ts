/**
 * Adaptive gradient clipping: `adaptiveGradClip`, optax's `adaptive_grad_clip`, which bounds
 * each unit's update norm (a column of a matrix, an output channel of a convolution) by a
 * multiple of the same unit's parameter norm.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import {
  asLeafLike,
  dataOf,
  flatten,
  leafPaths,
  shapeOf,
  shapesOf,
  unflatten,
  type FloatArray,
  type PyTree,
} from "../core/pytree.js";
import { checkShapes, paramsFlat, stateRecord } from "../core/state.js";
import { checkNumber, invalid, readOptions } from "../core/validate.js";

/** Options of {@link adaptiveGradClip} (optax's names, camelCased). @since 0.3.0 */
export interface AdaptiveGradClipOptions {
  /** A floor on the parameter norm, so that zero-initialized params can move, >= 0. Default 1e-3. */
  readonly eps?: number;
  /**
   * The axes a unit's norm is taken over (negative from the end), for every leaf; default
   * (omitted or null) by rank, as optax: the whole leaf for scalars and vectors (and shapes
   * that squeeze to one), axis 0 for rank 2 and 3, axes 0 to 2 for rank 4, 0 to 3 for rank 5.
   */
  readonly axis?: number | readonly number[] | null;
}

/** Where the update norm's floor stops a division by zero (optax's `div_eps`). */
const DIV_EPS = 1e-6;

/**
 * How a leaf's elements fall into units: element `e` (row-major) is in unit `e % modulo` when the
 * kept axes are the trailing ones (the default's case), else in unit `map[e]`.
 */
interface Units {
  readonly count: number;
  readonly modulo: number;
  readonly map: Int32Array | undefined;
}

/** The axes each unit's norm runs over, for a leaf of `shape`, by optax's rules or `axis`. */
function reducedAxes(shape: readonly number[], axis: readonly number[] | undefined, path: string): boolean[] {
  const rank = shape.length;
  if (axis === undefined) {
    const squeezed = shape.filter((d) => d !== 1).length;
    const upTo = squeezed <= 1 ? rank : rank === 2 || rank === 3 ? 1 : rank === 4 ? 3 : rank === 5 ? 4 : -1;
    if (upTo < 0)
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `adaptiveGradClip: a leaf of shape [${shape.join(", ")}] has no default units (ranks 1 to 5 have); pass axis`,
        path,
      );
    return shape.map((_, a) => a < upTo);
  }
  const reduced = shape.map(() => false);
  for (const a of axis) {
    if (a < -rank || a >= rank)
      throw new GradTxError(
        "INVALID_HYPERPARAMETER",
        `adaptiveGradClip: axis ${a} is out of range for a leaf of shape [${shape.join(", ")}]`,
        path,
      );
    reduced[a < 0 ? a + rank : a] = true;
  }
  return reduced;
}

/** The units of a leaf of `shape` whose norms run over the `reduced` axes. */
function unitsOf(shape: readonly number[], reduced: readonly boolean[]): Units {
  const rank = shape.length;
  let count = 1;
  for (let a = 0; a < rank; a++) if (!reduced[a]) count *= shape[a]!;
  // Kept axes all after the reduced ones: the unit is the element's index modulo their size.
  const firstKept = reduced.indexOf(false);
  if (firstKept < 0 || reduced.slice(firstKept).every((r) => !r)) return { count, modulo: count, map: undefined };
  // Otherwise an odometer over the axes, once per shape: each element's unit, row-major.
  const unitStride = new Array<number>(rank).fill(0);
  for (let a = rank - 1, s = 1; a >= 0; a--)
    if (!reduced[a]) {
      unitStride[a] = s;
      s *= shape[a]!;
    }
  const size = shape.reduce((x, y) => x * y, 1);
  const map = new Int32Array(size);
  const index = new Array<number>(rank).fill(0);
  for (let e = 0, unit = 0; e < size; e++) {
    map[e] = unit;
    for (let a = rank - 1; a >= 0; a--) {
      unit += unitStride[a]!;
      if (++index[a]! < shape[a]!) break;
      unit -= unitStride[a]! * shape[a]!;
      index[a] = 0;
    }
  }
  return { count, modulo: count, map };
}

/** Adds the squares of `x`'s elements into their units' sums, in float64. */
function unitSquares(x: FloatArray, units: Units): Float64Array {
  const sums = new Float64Array(units.count);
  const { map, modulo } = units;
  for (let e = 0; e < x.length; e++) {
    const v = x[e]!;
    sums[map === undefined ? e % modulo : map[e]!]! += v * v;
  }
  return sums;
}

const where = "adaptiveGradClip";

/** The barrier that clips: plain TypeScript, a few tight loops per leaf (see {@link adaptiveGradClip}). */
class AdaptiveGradClip implements GradientTransformation<ShapesState> {
  /** Units by shape (a model has a few shapes; the map is dropped if it ever holds many). */
  private readonly units = new Map<string, Units>();
  constructor(
    private readonly clipping: number,
    private readonly eps: number,
    private readonly axis: readonly number[] | undefined,
  ) {}

  private unitsFor(shape: readonly number[], path: () => string): Units {
    const key = shape.join(",");
    let units = this.units.get(key);
    if (units === undefined) {
      units = unitsOf(shape, reducedAxes(shape, this.axis, path()));
      if (this.units.size >= 64) this.units.clear();
      this.units.set(key, units);
    }
    return units;
  }

  init(params: PyTree): ShapesState {
    const flat = flatten(params);
    const paths = leafPaths(flat.def);
    flat.leaves.forEach((leaf, i) => this.unitsFor(shapeOf(leaf), () => paths[i]!));
    return { shapes: shapesOf(flat) };
  }

  update(updates: PyTree, state: ShapesState, params?: PyTree): readonly [PyTree, ShapesState] {
    const flat = flatten(updates);
    const s = stateRecord<ShapesState>(where, state, ["shapes"]);
    checkShapes(`${where}.shapes`, s.shapes, flat);
    const p = paramsFlat(where, params, flat);
    const leaves = flat.leaves.map((leaf, i) => {
      const units = this.unitsFor(shapeOf(leaf), () => leafPaths(flat.def)[i]!);
      const x = dataOf(leaf);
      const g = unitSquares(x, units);
      const w = unitSquares(dataOf(p.leaves[i]!), units);
      // Each unit's factor, in float64, rounded once to the leaf's dtype: 1 where it is not clipped.
      const f32 = x instanceof Float32Array;
      const factors = f32 ? new Float32Array(units.count) : new Float64Array(units.count);
      let clips = false;
      for (let u = 0; u < units.count; u++) {
        const norm = Math.sqrt(g[u]!);
        const maxNorm = this.clipping * Math.max(Math.sqrt(w[u]!), this.eps);
        factors[u] = norm < maxNorm ? 1 : maxNorm / Math.max(norm, DIV_EPS);
        if (!(norm < maxNorm)) clips = true;
      }
      // A leaf no unit of which is clipped comes back as it is.
      if (!clips) return leaf;
      const out = new (f32 ? Float32Array : Float64Array)(x.length);
      const { map, modulo } = units;
      for (let e = 0; e < x.length; e++) out[e] = x[e]! * factors[map === undefined ? e % modulo : map[e]!]!;
      return asLeafLike(leaf, out);
    });
    return [unflatten(flat.def, leaves), { shapes: s.shapes }];
  }
}

/**
 * Clips each unit's update to at most `clipping` times the unit's parameter norm (Brock, De,
 * Smith and Simonyan, 2021, "High-Performance Large-Scale Image Recognition Without
 * Normalization"), as optax's `adaptive_grad_clip`. `params` are required.
 *
 * ```
 * per unit (a slice of a leaf, see axis):   gn = ||u||,  pn = ||p||
 * maxNorm = clipping * max(pn, eps)
 * u' = gn < maxNorm ? u : u * maxNorm / max(gn, 1e-6)
 * ```
 *
 * A unit is what optax's `unitwise_norm` reduces over: by default the whole leaf for scalars and
 * vectors (a Float32Array or Float64Array leaf is a vector), the input axis 0 of a matrix (one
 * norm per column, the output unit of a dense layer) and of a rank-3 leaf, the spatial and input
 * axes 0 to 2 of a rank-4 convolution kernel (HWIO), 0 to 3 of a rank-5 one; `axis` names other
 * axes, for every leaf. A leaf of another rank without `axis` is `INVALID_HYPERPARAMETER` at
 * `init`, naming its path (optax raises when it updates).
 *
 * It runs as plain TypeScript between the compiled passes (a barrier): the kernel layer reduces
 * over a whole leaf or the whole tree, not over slices of a leaf. Each unit's sums of squares
 * are float64 sums in element order, and its factor is computed in float64 and rounded once to
 * the leaf's dtype (optax sums in the leaf's dtype); a leaf no unit of which is clipped comes
 * back as the very same array.
 *
 * @param clipping The largest ratio of update norm to parameter norm, >= 0.
 * @param options `eps` and `axis`; see {@link AdaptiveGradClipOptions}.
 * @example
 * ```ts
 * import { adaptiveGradClip } from "gradtx";
 * const tx = adaptiveGradClip(0.5);
 * const p = Float64Array.of(3, 4); // norm 5: updates of norm up to 2.5 pass
 * const [u] = tx.update(Float64Array.of(6, 8), tx.init(p), p);
 * // u ≈ [1.5, 2]: the norm 10 is cut to 2.5
 * const small = Float64Array.of(1, 2);
 * const [v] = tx.update(small, tx.init(p), p);
 * v === small; // true
 * ```
 * @since 0.3.0
 */
export function adaptiveGradClip(
  clipping: number,
  options: AdaptiveGradClipOptions | null = {},
): GradientTransformation<ShapesState> {
  options = readOptions(where, options, ["eps", "axis"], {
    hint: "optax's adaptive_grad_clip(clipping, eps, axis) is adaptiveGradClip(clipping, { eps: 1e-3, axis: [0, 1, 2] })",
  });
  checkNumber(where, "clipping", clipping, { min: 0, infinite: true });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-3, { min: 0 });
  const given = options.axis ?? undefined;
  const axis = given === undefined ? undefined : typeof given === "number" ? [given] : given;
  if (axis !== undefined) {
    if (!Array.isArray(axis)) invalid(where, `axis must be an integer or an array of integers, got ${typeof axis}`);
    axis.forEach((a, i) => checkNumber(where, `axis[${i}]`, a, { integer: true }));
    if (new Set(axis).size !== axis.length) invalid(where, `axis repeats an axis: [${axis.join(", ")}]`);
  }
  return new Transformation<ShapesState>({
    kind: "opaque",
    tx: new AdaptiveGradClip(clipping, eps, axis === undefined ? undefined : [...axis]),
  });
}
