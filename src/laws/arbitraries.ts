/**
 * fast-check arbitraries for pytrees, gradient sequences and hyperparameters.
 *
 * @module
 */
import * as fc from "fast-check";
import ndarray, { type NdArray } from "ndarray";
import ops from "ndarray-ops";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type Leaf, type PyTree } from "../core/pytree.js";
import { checkBoolean, checkNumber, invalid, readOptions } from "../core/validate.js";

/** What {@link arbitraryTree} generates. @since 0.1.0 */
export interface TreeConstraints {
  /** Deepest nesting of arrays and objects above a leaf. Default 2. */
  readonly maxDepth?: number;
  /** Most children of one array or object. Default 3. */
  readonly maxChildren?: number;
  /** Most elements of one leaf. Default 6. */
  readonly maxLeafLength?: number;
  /** Element types to draw from. Default both. */
  readonly dtypes?: readonly ("float32" | "float64")[];
  /**
   * Whether some leaves are 2-d ndarrays, some of them strided views (a transposed matrix, read
   * through its strides). Default true.
   */
  readonly ndarrays?: boolean;
  /** Largest magnitude of an element. Default 10. */
  readonly maxMagnitude?: number;
}

/** The keys of {@link TreeConstraints}. */
const TREE_KEYS = ["maxDepth", "maxChildren", "maxLeafLength", "dtypes", "ndarrays", "maxMagnitude"] as const;

function elements(length: number, magnitude: number): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: -magnitude, max: magnitude, noNaN: true, noDefaultInfinity: true }), {
    minLength: length,
    maxLength: length,
  });
}

function leafArbitrary(c: Required<TreeConstraints>): fc.Arbitrary<Leaf> {
  const dtype = fc.constantFrom(...c.dtypes);
  const flatLeaf = fc
    .tuple(dtype, fc.integer({ min: 1, max: c.maxLeafLength }))
    .chain(([d, n]) =>
      elements(n, c.maxMagnitude).map((xs): Leaf => (d === "float32" ? Float32Array.from(xs) : Float64Array.from(xs))),
    );
  if (!c.ndarrays) return flatLeaf;
  const side = Math.max(1, Math.floor(Math.sqrt(c.maxLeafLength)));
  const shapedLeaf = fc
    .tuple(dtype, fc.integer({ min: 1, max: side }), fc.integer({ min: 1, max: side }), fc.boolean())
    .chain(([d, rows, cols, transposed]) =>
      elements(rows * cols, c.maxMagnitude).map((xs): Leaf => {
        const Ctor = d === "float32" ? Float32Array : Float64Array;
        const dense = ndarray<Float32Array | Float64Array>(Ctor.from(xs), [rows, cols]);
        if (!transposed) return dense as Leaf;
        // The same elements in a column-major buffer, seen as rows by cols: written through the
        // view's strides by ndarray-ops, independently of gradtx's own strided reads.
        const view = ndarray<Float32Array | Float64Array>(new Ctor(rows * cols), [cols, rows]).transpose(1, 0);
        ops.assign(view as NdArray, dense as NdArray);
        return view as unknown as Leaf;
      }),
    );
  return fc.oneof({ weight: 3, arbitrary: flatLeaf }, { weight: 1, arbitrary: shapedLeaf });
}

/** Checks tree constraints and fills in the defaults. */
function treeConstraints(where: string, constraints: TreeConstraints): Required<TreeConstraints> {
  const dtypes = constraints.dtypes ?? ["float32", "float64"];
  if (!Array.isArray(dtypes) || dtypes.length === 0 || dtypes.some((d) => d !== "float32" && d !== "float64"))
    invalid(where, 'dtypes must be a non-empty array of "float32" and "float64"');
  const count = { min: 0, max: 1000, integer: true };
  return {
    maxDepth: checkNumber(where, "maxDepth", constraints.maxDepth ?? 2, { ...count, max: 16 }),
    maxChildren: checkNumber(where, "maxChildren", constraints.maxChildren ?? 3, { ...count, min: 1 }),
    maxLeafLength: checkNumber(where, "maxLeafLength", constraints.maxLeafLength ?? 6, { ...count, min: 1 }),
    dtypes,
    ndarrays: checkBoolean(where, "ndarrays", constraints.ndarrays ?? true),
    maxMagnitude: checkNumber(where, "maxMagnitude", constraints.maxMagnitude ?? 10, { min: 0 }),
  };
}

/**
 * Pytrees of float32/float64 typed arrays and ndarrays, nested in arrays and plain objects,
 * with at least one leaf.
 *
 * @example
 * ```ts
 * import * as fc from "fast-check";
 * import { arbitraryTree } from "gradtx/laws";
 * fc.assert(fc.property(arbitraryTree({ maxDepth: 1 }), (t) => t !== undefined));
 * ```
 * @since 0.1.0
 */
export function arbitraryTree(constraints: TreeConstraints | null = {}): fc.Arbitrary<PyTree> {
  const c = treeConstraints("arbitraryTree", readOptions("arbitraryTree", constraints, TREE_KEYS));
  const leaf = leafArbitrary(c);
  const key = fc.constantFrom("w", "b", "kernel", "bias", "scale", "layer_1", "Z");
  const build = (depth: number): fc.Arbitrary<PyTree> => {
    if (depth === 0) return leaf;
    const child = build(depth - 1);
    return fc.oneof(
      { weight: 2, arbitrary: leaf },
      { weight: 1, arbitrary: fc.array(child, { minLength: 1, maxLength: c.maxChildren }) },
      { weight: 2, arbitrary: fc.dictionary(key, child, { minKeys: 1, maxKeys: c.maxChildren }) },
    );
  };
  return build(c.maxDepth);
}

/**
 * A tree of the same structure, dtypes and leaf kinds as `template`, with new elements: a
 * gradient for params shaped like `template`.
 *
 * @example
 * ```ts
 * import * as fc from "fast-check";
 * import { arbitraryLike } from "gradtx/laws";
 * const grads = arbitraryLike({ w: new Float32Array(3) });
 * ```
 * @since 0.1.0
 */
export function arbitraryLike(template: PyTree, maxMagnitude = 10): fc.Arbitrary<PyTree> {
  const flat = flatten(template);
  return fc.tuple(...flat.leaves.map((leaf) => elements(dataOf(leaf).length, maxMagnitude))).map((datas) =>
    unflatten(
      flat.def,
      flat.leaves.map((leaf, i) => asLeafLike(leaf, new (ctorOf(leaf))(datas[i]!))),
    ),
  );
}

/** A training problem: params and a sequence of gradients shaped like them. @since 0.1.0 */
export interface Problem {
  /** The initial params. */
  readonly params: PyTree;
  /** One gradient per step, shaped like the params. */
  readonly grads: readonly PyTree[];
}

/**
 * Params and `steps` gradients shaped like them (open loop: the gradients do not depend on the
 * params, which keeps law comparisons free of feedback).
 *
 * @example
 * ```ts
 * import { arbitraryProblem } from "gradtx/laws";
 * const problems = arbitraryProblem({ minSteps: 1, maxSteps: 12 });
 * ```
 * @since 0.1.0
 */
export function arbitraryProblem(
  options: (TreeConstraints & { readonly minSteps?: number; readonly maxSteps?: number }) | null = {},
): fc.Arbitrary<Problem> {
  options = readOptions("arbitraryProblem", options, [...TREE_KEYS, "minSteps", "maxSteps"]);
  const { minSteps = 1, maxSteps = 12, ...tree } = options;
  treeConstraints("arbitraryProblem", tree);
  checkNumber("arbitraryProblem", "minSteps", minSteps, { min: 1, max: 10000, integer: true });
  checkNumber("arbitraryProblem", "maxSteps", maxSteps, { min: minSteps, max: 10000, integer: true });
  return arbitraryTree(tree).chain((params) =>
    fc
      .array(arbitraryLike(params, tree.maxMagnitude ?? 10), { minLength: minSteps, maxLength: maxSteps })
      .map((grads): Problem => ({ params, grads })),
  );
}

/**
 * Valid hyperparameters, for building optimizers inside properties.
 *
 * @example
 * ```ts
 * import * as fc from "fast-check";
 * import { hyperparameters } from "gradtx/laws";
 * fc.sample(hyperparameters.learningRate, 3);
 * ```
 * @since 0.1.0
 */
export const hyperparameters = {
  /** Learning rates in [1e-4, 1]. */
  learningRate: fc.double({ min: 1e-4, max: 1, noNaN: true }),
  /** Momentum / decay rates in [0, 0.99]. */
  decay: fc.double({ min: 0, max: 0.99, noNaN: true }),
  /** Lookahead's alpha in [0, 1]. */
  alpha: fc.double({ min: 0, max: 1, noNaN: true }),
  /** Lookahead's syncPeriod in 1..8. */
  syncPeriod: fc.integer({ min: 1, max: 8 }),
  /** Clipping norms in [1e-3, 100]. */
  maxNorm: fc.double({ min: 1e-3, max: 100, noNaN: true }),
} as const;
