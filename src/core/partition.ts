/**
 * Per-leaf choices given as a prefix tree or a function: which leaves a mask selects, which
 * label `multiTransform` gives a leaf.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import { formatPath, leafPaths, unflatten, type Flat, type Leaf, type PyTree, type TreeDef } from "./pytree.js";

/** A tree of `T` shaped like the params, or a prefix of them (a `T` stands for a whole subtree). @since 0.1.0 */
export type PrefixTree<T> = T | readonly PrefixTree<T>[] | { readonly [key: string]: PrefixTree<T> };

/** Per-leaf values: a prefix tree of them, or a function of the leaf's path and the leaf. @since 0.1.0 */
export type PerLeaf<T> = PrefixTree<T> | ((path: string, leaf: Leaf) => T);

/**
 * One value per leaf of `tree`, in canonical order. A prefix tree must follow the tree's
 * structure down to where it holds a value; a mismatch is `STRUCTURE_MISMATCH` with the path.
 */
export function resolvePerLeaf<T>(
  where: string,
  spec: PerLeaf<T>,
  tree: Flat,
  isValue: (x: unknown) => x is T,
  what: string,
): T[] {
  if (typeof spec === "function") {
    const paths = leafPaths(tree.def);
    const fn = spec as (path: string, leaf: Leaf) => unknown;
    return tree.leaves.map((leaf, i) => {
      const value = fn(paths[i]!, leaf);
      if (!isValue(value))
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `${where}: the ${what} function returned ${String(value)}`,
          paths[i],
        );
      return value;
    });
  }
  const out: T[] = [];
  const path: (string | number)[] = [];
  const fill = (def: TreeDef, value: T): void => {
    if (def.kind === "leaf") out.push(value);
    else if (def.kind === "array" || def.kind === "object") for (const c of def.children) fill(c, value);
  };
  const visit = (def: TreeDef, node: unknown): void => {
    if (isValue(node)) return fill(def, node);
    const bad = (): never => {
      throw new GradTxError(
        "STRUCTURE_MISMATCH",
        `${where}: the ${what} tree must hold a ${what} here or match the tree's structure`,
        formatPath(path),
      );
    };
    if (def.kind === "array") {
      if (!Array.isArray(node) || node.length !== def.children.length) bad();
      def.children.forEach((c, i) => {
        path.push(i);
        visit(c, (node as unknown[])[i]);
        path.pop();
      });
    } else if (def.kind === "object") {
      if (typeof node !== "object" || node === null || Array.isArray(node)) bad();
      const keys = Object.keys(node as object).sort();
      if (keys.length !== def.keys.length || keys.some((k, i) => k !== def.keys[i])) bad();
      def.children.forEach((c, i) => {
        path.push(def.keys[i]!);
        visit(c, (node as Record<string, unknown>)[def.keys[i]!]);
        path.pop();
      });
    } else if (def.kind === "leaf") bad();
  };
  visit(tree.def, spec);
  return out;
}

const NONE: TreeDef = { kind: "none", value: null };

/**
 * The flat form of {@link selectLeaves}'s tree, built from `tree`'s without the tree in between:
 * the structure with each leaf left out an empty subtree, and the selected leaves.
 */
export function selectFlat(tree: Flat, selected: readonly boolean[]): Flat {
  let next = 0;
  const select = (def: TreeDef): TreeDef => {
    switch (def.kind) {
      case "leaf":
        return selected[next++] ? def : NONE;
      case "none":
        return def;
      case "array":
        return { kind: "array", children: def.children.map(select) };
      case "object":
        return { kind: "object", keys: def.keys, children: def.children.map(select) };
    }
  };
  const def = select(tree.def);
  const leaves = tree.leaves.filter((_, i) => selected[i]);
  return { def, leaves, data: tree.data === undefined ? undefined : tree.data.filter((_, i) => selected[i]) };
}

/** The tree with only the selected leaves; the others become `null` (an empty subtree). */
export function selectLeaves(tree: Flat, selected: readonly boolean[]): PyTree {
  const flat = selectFlat(tree, selected);
  return unflatten(flat.def, flat.leaves);
}

export const isBoolean = (x: unknown): x is boolean => typeof x === "boolean";
export const isString = (x: unknown): x is string => typeof x === "string";
