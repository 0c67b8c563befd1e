/**
 * A transformation per group of leaves: `multiTransform`.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { isString, resolvePerLeaf, type PerLeaf } from "../core/partition.js";
import { leafPaths, type Flat } from "../core/pytree.js";
import { checkTransformation } from "../core/validate.js";
import { checkPerLeafSpec } from "./parts.js";

/** The state of {@link multiTransform}: one inner state per label. @since 0.1.0 */
export interface MultiTransformState {
  /**
   * Label -> the state of that label's transformation over its own leaves (`null` in place of
   * the others, as in {@link MaskedState}). Every label of `transforms` has one, used or not.
   */
  readonly inner: Readonly<Record<string, unknown>>;
}

/**
 * Partitions the leaves by label and runs each part through the transformation of its label,
 * as optax's `multi_transform`: every leaf is handled by exactly one transformation, which sees
 * only the leaves of its label (the others are `null`, as in {@link masked}).
 *
 * ```
 * u'_i = transforms[label_i](u restricted to the leaves labelled label_i)_i
 * ```
 *
 * @param transforms Label -> transformation. A label no leaf carries still gets a (leafless) state.
 * @param labels A tree of labels shaped like the params (a label may stand for a whole subtree),
 *   or a function `(path, leaf) => label`, called on the param leaves at `init` and on the
 *   update leaves at `update`. A leaf whose label has no transformation throws
 *   `INVALID_HYPERPARAMETER` at `init`, with the leaf's path.
 * @example
 * ```ts
 * import { adam, multiTransform, sgd } from "gradtx";
 * const tx = multiTransform({ head: adam(1e-3), body: sgd(1e-4) }, (path) => (path.startsWith("head") ? "head" : "body"));
 * const params = { head: Float64Array.of(1), body: { w: Float64Array.of(2) } };
 * const state = tx.init(params);
 * Object.keys(state.inner); // ["body", "head"]: sgd's state and adam's
 * ```
 *
 * The result needs the `extra` fields any of `transforms` needs.
 *
 * @since 0.1.0
 */
export function multiTransform<const T extends Readonly<Record<string, GradientTransformation<unknown>>>>(
  transforms: T,
  labels: PerLeaf<string>,
): WithExtraArgs<MultiTransformState, ExtraArgsNeeded<T[keyof T]>>;
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation>>,
  labels: PerLeaf<string>,
): GradientTransformation<MultiTransformState> {
  if (typeof transforms !== "object" || transforms === null || Array.isArray(transforms))
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      "multiTransform: transforms must be an object of label -> GradientTransformation",
    );
  const names = Object.keys(transforms).sort();
  // Each transformation is read once (a getter runs once): the one checked is the one used.
  const parts = new Map<string, GradientTransformation>();
  for (const name of names) {
    const tx: unknown = transforms[name];
    checkTransformation(`multiTransform: transforms["${name}"]`, tx);
    parts.set(name, tx as GradientTransformation);
  }
  checkPerLeafSpec(
    "multiTransform",
    labels,
    isString,
    "labels: a tree of strings or a function (path, leaf) => string",
  );

  /** One label per leaf, each with a transformation. */
  const labelsOf = (tree: Flat): string[] => {
    const out = resolvePerLeaf("multiTransform", labels, tree, isString, "label");
    for (let i = 0; i < out.length; i++) {
      const label = out[i]!;
      if (!parts.has(label))
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `multiTransform: label ${JSON.stringify(label)} has no transformation (labels: ${names.join(", ")})`,
          leafPaths(tree.def)[i],
        );
    }
    return out;
  };

  // Each label's transformation is a node on the leaves of its label, as in masked: the executor
  // fuses the kernels of every label into one pass per leaf.
  return new Transformation<MultiTransformState>({
    kind: "multiTransform",
    labels: labelsOf,
    parts: names.map((name) => [name, nodeOf(parts.get(name)!)] as const),
  });
}
