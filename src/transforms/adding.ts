/**
 * Transformations that add a term to the updates: decoupled weight decay.
 *
 * @module
 */
import { initEmpty, type EmptyState, type GradientTransformation, type ScalarOrSchedule } from "../base.js";
import { GradTxError } from "../errors.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  flatten,
  leafPaths,
  unflatten,
  type Flat,
  type Leaf,
  type PyTree,
} from "../pytree.js";
import { paramsFlat } from "../state.js";
import { checkNumber } from "../validate.js";

/**
 * Which leaves a transformation applies to: a tree of booleans with the params' structure (a
 * boolean may stand for a whole subtree), or a predicate called once per leaf with the leaf's
 * path (`"layers[0].w"`) and the param leaf.
 *
 * @example
 * ```ts
 * import type { Mask } from "gradtx";
 * const noBiases: Mask = (path) => !path.endsWith(".b");
 * ```
 * @since 0.1.0
 */
export type Mask = MaskTree | ((path: string, param: Leaf) => boolean);

/** A tree of booleans shaped like the params, or a prefix of them. @since 0.1.0 */
export type MaskTree = boolean | readonly MaskTree[] | { readonly [key: string]: MaskTree };

function maskLeaves(where: string, mask: MaskTree, params: Flat): boolean[] {
  const out: boolean[] = [];
  const visit = (def: Flat["def"], m: unknown, path: string): void => {
    if (typeof m === "boolean") {
      countLeaves(def, () => out.push(m));
      return;
    }
    const bad = (): never => {
      throw new GradTxError(
        "STRUCTURE_MISMATCH",
        `${where}: the mask must be a boolean or match the params' structure here`,
        path,
      );
    };
    if (def.kind === "array") {
      if (!Array.isArray(m) || m.length !== def.children.length) bad();
      def.children.forEach((c, i) => visit(c, (m as unknown[])[i], `${path}[${i}]`));
    } else if (def.kind === "object") {
      if (typeof m !== "object" || m === null || Array.isArray(m)) bad();
      const keys = Object.keys(m as object).sort();
      if (keys.length !== def.keys.length || keys.some((k, i) => k !== def.keys[i])) bad();
      def.children.forEach((c, i) =>
        visit(c, (m as Record<string, unknown>)[def.keys[i]!], path === "" ? def.keys[i]! : `${path}.${def.keys[i]!}`),
      );
    } else if (def.kind === "leaf") bad();
  };
  visit(params.def, mask, "");
  return out;
}

function countLeaves(def: Flat["def"], onLeaf: () => void): void {
  if (def.kind === "leaf") onLeaf();
  else if (def.kind === "array" || def.kind === "object") for (const c of def.children) countLeaves(c, onLeaf);
}

/** Resolves a {@link Mask} to one boolean per leaf of `params`, in canonical order. */
export function resolveMask(where: string, mask: Mask, params: Flat): boolean[] {
  if (typeof mask === "function") {
    const paths = leafPaths(params.def);
    return params.leaves.map((leaf, i) => Boolean(mask(paths[i]!, leaf)));
  }
  return maskLeaves(where, mask, params);
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
  options: { readonly mask?: Mask } = {},
): GradientTransformation<EmptyState> {
  if (typeof weightDecay === "function")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      "addDecayedWeights: weightDecay must be a number (wrap the optimizer in injectHyperparams to change it over time)",
    );
  checkNumber("addDecayedWeights", "weightDecay", weightDecay, { min: 0 });
  const mask = options.mask;
  if (
    mask !== undefined &&
    typeof mask !== "function" &&
    typeof mask !== "boolean" &&
    (typeof mask !== "object" || mask === null)
  )
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      "addDecayedWeights: mask must be a tree of booleans or a predicate (path, leaf) => boolean",
    );
  return {
    init: initEmpty,
    update(updates, state, params?: PyTree) {
      const g = flatten(updates);
      const p = paramsFlat("addDecayedWeights", params, g);
      const decayed = mask === undefined ? null : resolveMask("addDecayedWeights", mask, p);
      const outs = g.leaves.map((leaf, i): PyTree => {
        if (decayed !== null && !decayed[i]) return leaf;
        const x = dataOf(leaf);
        const pd = dataOf(p.leaves[i]!);
        const o = new (ctorOf(leaf))(x.length);
        for (let j = 0; j < x.length; j++) o[j] = x[j]! + weightDecay * pd[j]!;
        return asLeafLike(leaf, o);
      });
      const out = unflatten(g.def, outs);
      return [out, state];
    },
  };
}
