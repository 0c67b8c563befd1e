/**
 * Applying transformations to parts of a tree: `masked` and `multiTransform`.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { GradTxError } from "../errors.js";
import { isString, resolvePerLeaf, selectLeaves, type PerLeaf } from "../partition.js";
import { assertSameStructure, flatten, leafPaths, unflatten, type Flat, type PyTree } from "../pytree.js";
import { stateRecord } from "../state.js";
import { checkTransformation } from "../validate.js";
import { resolveMask, type Mask } from "../transforms/adding.js";

/** The state of {@link masked}: the inner state, over the selected leaves only. @since 0.1.0 */
export interface MaskedState<S> {
  /** The inner transformation's state over the selected leaves (the others are `null`). */
  readonly inner: S;
}

/**
 * Runs `inner` on the leaves `mask` selects; the other leaves pass through untouched (the very
 * same arrays), as optax's `masked`. The inner transformation sees trees in which the
 * masked-out leaves are `null` (empty subtrees), so its state holds nothing for them.
 *
 * `u'_i = mask_i ? inner(u)_i : u_i`
 *
 * @param mask A tree of booleans (a prefix of the params' structure) or a predicate
 *   `(path, leaf) => boolean`; the predicate sees param leaves at `init` and update leaves at
 *   `update`.
 * @example
 * ```ts
 * import { adam, masked } from "gradtx";
 * // Adam for the weights, nothing for the biases:
 * const tx = masked(adam(1e-3), (path) => !path.endsWith(".b"));
 * ```
 * @since 0.1.0
 */
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<MaskedState<S>> {
  checkTransformation("masked", inner);
  return {
    init(params) {
      const p = flatten(params);
      return { inner: inner.init(selectLeaves(p, resolveMask("masked", mask, p))) };
    },
    update(updates, state, params) {
      const s = stateRecord<MaskedState<S>>("masked", state, ["inner"]);
      const g = flatten(updates);
      const selected = resolveMask("masked", mask, g);
      const [out, next] = runOnPart(inner, s.inner, g, selected, params);
      return [unflatten(g.def, mergeLeaves(g, [[selected, out]])), { inner: next }];
    },
  };
}

/** The state of {@link multiTransform}: one inner state per label. @since 0.1.0 */
export interface MultiTransformState {
  /** Label -> the state of that label's transformation over its leaves. */
  readonly inner: Readonly<Record<string, unknown>>;
}

/**
 * Partitions the leaves by label and runs each part through the transformation of its label,
 * as optax's `multi_transform`. Every leaf is handled by exactly one transformation.
 *
 * `u'_i = transforms[label_i](u restricted to label_i)_i`
 *
 * @param transforms Label -> transformation.
 * @param labels A tree of labels (a prefix of the params' structure) or `(path, leaf) => label`.
 *   A label with no transformation throws at `init` (`INVALID_HYPERPARAMETER`, with the path).
 * @example
 * ```ts
 * import { adam, multiTransform, sgd } from "gradtx";
 * const tx = multiTransform({ fast: adam(1e-3), slow: sgd(1e-4) }, (path) => (path.startsWith("head") ? "fast" : "slow"));
 * ```
 * @since 0.1.0
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation>>,
  labels: PerLeaf<string>,
): GradientTransformation<MultiTransformState> {
  const names = Object.keys(transforms).sort();
  names.forEach((name) => checkTransformation(`multiTransform (label "${name}")`, transforms[name]!));
  const labelsOf = (tree: Flat): string[] => {
    const out = resolvePerLeaf("multiTransform", labels, tree, isString, "label");
    const paths = leafPaths(tree.def);
    out.forEach((label, i) => {
      if (!(label in transforms))
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `multiTransform: label "${label}" has no transformation (labels: ${names.join(", ")})`,
          paths[i],
        );
    });
    return out;
  };
  return {
    init(params) {
      const p = flatten(params);
      const leafLabels = labelsOf(p);
      const inner: Record<string, unknown> = {};
      for (const name of names)
        inner[name] = transforms[name]!.init(
          selectLeaves(
            p,
            leafLabels.map((l) => l === name),
          ),
        );
      return { inner };
    },
    update(updates, state, params) {
      const s = stateRecord<MultiTransformState>("multiTransform", state, ["inner"]);
      const g = flatten(updates);
      const leafLabels = labelsOf(g);
      const parts: [boolean[], PyTree][] = [];
      const inner: Record<string, unknown> = {};
      for (const name of names) {
        if (!(name in s.inner)) throw new GradTxError("BAD_STATE", `multiTransform: the state has no part "${name}"`);
        const selected = leafLabels.map((l) => l === name);
        const [out, next] = runOnPart(transforms[name]!, s.inner[name], g, selected, params);
        parts.push([selected, out]);
        inner[name] = next;
      }
      return [unflatten(g.def, mergeLeaves(g, parts)), { inner }];
    },
  };
}

/** Runs `tx` on the selected leaves of `updates` (and of `params`), the others `null`. */
function runOnPart<S>(
  tx: GradientTransformation<S>,
  state: S,
  updates: Flat,
  selected: readonly boolean[],
  params: PyTree | undefined,
): readonly [PyTree, S] {
  let partParams: PyTree | undefined;
  if (params !== undefined) {
    const p = flatten(params);
    assertSameStructure(p, updates);
    partParams = selectLeaves(p, selected);
  }
  return tx.update(selectLeaves(updates, selected), state, partParams);
}

/** The leaves of `updates`, each replaced by the output of the part that selected it. */
function mergeLeaves(updates: Flat, parts: readonly (readonly [readonly boolean[], PyTree])[]): PyTree[] {
  const out: PyTree[] = updates.leaves.slice();
  for (const [selected, result] of parts) {
    const leaves = flatten(result).leaves;
    let next = 0;
    selected.forEach((isSelected, i) => {
      if (isSelected) out[i] = leaves[next++];
    });
    if (next !== leaves.length)
      throw new GradTxError(
        "BAD_STATE",
        `an inner transformation returned ${leaves.length} leaves for ${next} selected`,
      );
  }
  return out;
}
