/**
 * Transformations that add a term to the updates: decoupled weight decay.
 *
 * @module
 */
import { type ShapesState, type GradientTransformation, type ScalarOrSchedule } from "../core/base.js";
import { isBoolean, resolvePerLeaf, type PerLeaf, type PrefixTree } from "../core/partition.js";
import { type Flat } from "../core/pytree.js";
import { checkNumber, invalid, readOptions } from "../core/validate.js";
import { elementwise } from "../kernels/executor.js";
import { add, mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

/**
 * Which leaves a transformation applies to: a tree of booleans with the params' structure (a
 * boolean may stand for a whole subtree), or a predicate called once per leaf with the leaf's
 * path (`"layers[0].w"`) and the leaf.
 *
 * @example
 * ```ts
 * import type { Mask } from "gradtx";
 * const noBiases: Mask = (path) => !path.endsWith(".b");
 * ```
 * @since 0.1.0
 */
export type Mask = PerLeaf<boolean>;

/** A tree of booleans shaped like the params, or a prefix of them. @since 0.1.0 */
export type MaskTree = PrefixTree<boolean>;

/** Resolves a {@link Mask} to one boolean per leaf, in canonical order. */
export function resolveMask(where: string, mask: Mask, tree: Flat): boolean[] {
  return resolvePerLeaf(where, mask, tree, isBoolean, "mask");
}

const DECAYED = { decayed: 1 } as const;
const KEPT = { decayed: 0 } as const;

/**
 * A weight decay's flag per leaf (`decayed`: 1 where `mask` selects the leaf, every leaf without a
 * mask), one shared object per value, so that leaves with one flag share their scalars.
 */
export function decayFlags(where: string, mask: Mask | undefined, params: Flat): { readonly decayed: number }[] {
  if (mask === undefined) return params.leaves.map(() => DECAYED);
  return resolveMask(where, mask, params).map((on) => (on ? DECAYED : KEPT));
}

/**
 * Adds decoupled weight decay (Loshchilov and Hutter, 2019) to the updates: `params` are
 * required. Placed before `scaleByLearningRate`, as in `adamw`, the decay is multiplied by the
 * learning rate.
 *
 * `u' = u + weightDecay * params` (leaves the mask excludes pass through untouched)
 *
 * @param weightDecay A number >= 0 (default 0).
 * @param options.mask Which leaves to decay (default all).
 * @example
 * ```ts
 * import { addDecayedWeights } from "gradtx";
 * const tx = addDecayedWeights(0.1);
 * const params = Float64Array.of(1, 2);
 * const [u] = tx.update(Float64Array.of(0, 0), tx.init(params), params);
 * // u = [0.1, 0.2]
 * ```
 * @since 0.1.0
 */
export function addDecayedWeights(
  weightDecay: ScalarOrSchedule = 0,
  options: { readonly mask?: Mask } | null = {},
): GradientTransformation<ShapesState> {
  options = readOptions("addDecayedWeights", options, ["mask"], {
    hint: "optax's add_decayed_weights(weight_decay, mask) is addDecayedWeights(weightDecay, { mask })",
  });
  if (typeof weightDecay === "function")
    invalid(
      "addDecayedWeights",
      "weightDecay must be a number (wrap the optimizer in injectHyperparams to change it over time)",
    );
  checkNumber("addDecayedWeights", "weightDecay", weightDecay, { min: 0 });
  const mask = options.mask;
  if (
    mask !== undefined &&
    typeof mask !== "function" &&
    typeof mask !== "boolean" &&
    (typeof mask !== "object" || mask === null)
  )
    invalid("addDecayedWeights", "mask must be a tree of booleans or a predicate (path, leaf) => boolean");
  return elementwise<ShapesState>(
    declare({
      name: "addDecayedWeights",
      readsParams: true,
      hyper: { weightDecay },
      // The mask is a flag per leaf: a leaf it leaves out passes untouched, the same leaf.
      leafScalars: ["decayed"],
      perLeaf: (params) => decayFlags("addDecayedWeights", mask, params),
      identity: (s) => s.decayed === 0,
      body: ({ x, p }, s) => {
        const decayed = add(x, mul(s.weightDecay, p));
        return { update: decayed };
      },
    }),
  );
}
