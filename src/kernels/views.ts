/**
 * Views: the part of a step's leaves a node works on. The executor plans every node over a view;
 * `masked` and `multiTransform` narrow it. A node inside a view sees the updates (and params)
 * with every leaf outside it replaced by `null`, an empty subtree, exactly as the combinators
 * define it: its state holds `null` there, and a sum over "the tree" covers the view's leaves.
 *
 * The ops the planner appends still index the step's leaves; a view maps its own leaves (in
 * canonical order) to the step's, and says which of the step's leaves an op may touch.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { selectFlat } from "../core/partition.js";
import {
  asLeafLike,
  assertSameStructure,
  ctorOf,
  flatten,
  sizeOf,
  unflatten,
  type Flat,
  type PyTree,
} from "../core/pytree.js";

/** The leaves a node works on. */
export interface View {
  /** The updates as the node sees them: the step's, `null` outside the view. */
  readonly tree: Flat;
  /** The params likewise, flattened (undefined when the call has none). */
  readonly params: Flat | undefined;
  /** The params as the node hands them to an opaque transformation. */
  readonly paramsTree: PyTree | undefined;
  /** The view's leaf `j` is the step's leaf `index[j]`. */
  readonly index: readonly number[];
  /** Per leaf of the step, whether it is in the view; undefined when every leaf is. */
  readonly active: readonly boolean[] | undefined;
  /** Who narrowed the view, for errors ("masked", `multiTransform (label "a")`). */
  readonly where: string;
}

/** The view of a whole step. */
export function wholeView(updates: Flat, params: Flat | undefined, paramsTree: PyTree | undefined): View {
  return {
    tree: updates,
    params,
    paramsTree,
    index: updates.leaves.map((_, i) => i),
    active: undefined,
    where: "",
  };
}

/** The part of `view` whose leaves `selected` picks (one boolean per leaf of the view). */
export function narrow(view: View, selected: readonly boolean[], where: string): View {
  const steps = view.active?.length ?? view.index.length;
  const active = new Array<boolean>(steps).fill(false);
  const index = view.index.filter((_, j) => selected[j]);
  for (const i of index) active[i] = true;
  const params = view.params === undefined ? undefined : selectFlat(view.params, selected);
  let paramsTree: PyTree | undefined;
  return {
    tree: selectFlat(view.tree, selected),
    params,
    // Built only for an opaque transformation inside the view, which takes the params as a tree.
    get paramsTree() {
      return params === undefined ? undefined : (paramsTree ??= unflatten(params.def, params.leaves));
    },
    index,
    active,
    where,
  };
}

/** Values per leaf of the view, placed at the step's leaves (the others left empty). */
export function spread<T>(view: View, values: readonly T[]): T[] {
  if (view.active === undefined) return values as T[];
  const out = new Array<T>(view.active.length);
  view.index.forEach((i, j) => (out[i] = values[j]!));
  return out;
}

/** Values per leaf of the step, taken at the view's leaves. */
export function gather<T>(view: View, values: readonly T[]): T[] {
  return view.active === undefined ? (values as T[]) : view.index.map((i) => values[i]!);
}

/** Whether the view and the leaves `active` marks (every leaf when undefined) share a leaf. */
export function overlaps(view: View, active: readonly boolean[] | undefined): boolean {
  if (active === undefined) return view.index.length > 0;
  return view.index.some((i) => active[i]);
}

/**
 * `tx` run on the view's leaves of the updates it is given (a whole step's), with the view's
 * params: the other leaves pass through as they came. What an opaque transformation inside a
 * `masked` or `multiTransform` is, as a barrier of the whole step.
 */
export function onView<S>(view: View, tx: GradientTransformation<S>): GradientTransformation<S> {
  return {
    init: (params) => tx.init(params),
    update(updates, state, _params, extra) {
      const flat = flatten(updates);
      const part = unflatten(view.tree.def, gather(view, flat.leaves));
      const [out, next] = tx.update(part, state, view.paramsTree, extra);
      const result = flatten(out);
      try {
        assertSameStructure(flatten(part), result);
      } catch (e) {
        if (e instanceof GradTxError)
          throw new GradTxError(
            e.code,
            `${view.where}: the inner transformation returned updates of another structure (${e.message})`,
          );
        throw e;
      }
      const leaves: PyTree[] = flat.leaves.slice();
      view.index.forEach((i, j) => (leaves[i] = result.leaves[j]));
      return [unflatten(flat.def, leaves), next];
    },
  };
}

/** The updates with the view's leaves replaced by zeros of their dtypes and kinds. */
export function zerosOnView(view: View, updates: PyTree): PyTree {
  const flat = flatten(updates);
  const leaves: PyTree[] = flat.leaves.slice();
  for (const i of view.index) {
    const leaf = flat.leaves[i]!;
    leaves[i] = asLeafLike(leaf, new (ctorOf(leaf))(sizeOf(leaf)));
  }
  return unflatten(flat.def, leaves);
}
