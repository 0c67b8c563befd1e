/**
 * Named fields anywhere in a state: `tree.get(state, "learningRate")` and `tree.set`, as
 * optax's `tree_get` and `tree_set`.
 *
 * @module
 */
import { GradTxError } from "./errors.js";
import { formatPath, isLeaf, MAX_DEPTH } from "./pytree.js";

type Segment = string | number;

/** Whether `x` is a container the search walks into: a plain object or an array (not a leaf). */
function isContainer(x: unknown): x is Record<string, unknown> | unknown[] {
  if (typeof x !== "object" || x === null || isLeaf(x)) return false;
  if (Array.isArray(x)) return true;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function checkKey(where: string, key: unknown): string {
  if (typeof key !== "string" || key === "")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: a field name must be a non-empty string, got ${typeof key}`,
    );
  return key;
}

/**
 * The paths of every field named by `keys` in `tree`, in the canonical order (object keys
 * sorted), searched inside the values found too, as optax does. A cycle or a nesting deeper
 * than {@link MAX_DEPTH} is `BAD_STATE`.
 */
function findAll(where: string, tree: unknown, keys: ReadonlySet<string>): Segment[][] {
  const found: Segment[][] = [];
  const ancestors = new Set<unknown>();
  const visit = (node: unknown, path: Segment[]): void => {
    if (!isContainer(node)) return;
    if (ancestors.has(node))
      throw new GradTxError("BAD_STATE", `${where}: the tree contains itself (a cycle)`, formatPath(path));
    if (path.length >= MAX_DEPTH)
      throw new GradTxError(
        "BAD_STATE",
        `${where}: the tree is nested deeper than ${MAX_DEPTH} levels`,
        formatPath(path),
      );
    ancestors.add(node);
    if (Array.isArray(node)) node.forEach((child, i) => visit(child, [...path, i]));
    else
      for (const key of Object.keys(node).sort()) {
        if (keys.has(key)) found.push([...path, key]);
        visit(node[key], [...path, key]);
      }
    ancestors.delete(node);
  };
  visit(tree, []);
  return found;
}

function valueAt(tree: unknown, path: readonly Segment[]): unknown {
  let node = tree;
  for (const segment of path) node = (node as Record<Segment, unknown>)[segment];
  return node;
}

/**
 * The value of the field named `key` anywhere in `tree` (a state: plain objects, arrays,
 * numbers and leaves), as optax's `tree_get`: `defaultValue` (`undefined` unless given) when
 * there is none. When there are several, which one is meant is ambiguous: it throws
 * `BAD_STATE` listing their paths, at the second one (optax raises a `KeyError`). Leaves are
 * not searched into.
 *
 * @example
 * ```ts
 * import { injectHyperparams, sgd, tree } from "gradtx";
 * const opt = injectHyperparams((h) => sgd(h.learningRate), { learningRate: 0.1 });
 * const state = opt.init(Float64Array.of(1, 2));
 * tree.get(state, "learningRate"); // 0.1
 * tree.get(state, "momentum", 0); // 0: there is none
 * ```
 * @since 0.3.0
 */
export function get(tree: unknown, key: string, defaultValue?: unknown): unknown {
  const where = "tree.get";
  const found = findAll(where, tree, new Set([checkKey(where, key)]));
  if (found.length > 1)
    throw new GradTxError(
      "BAD_STATE",
      `${where}: ${found.length} fields are named ${JSON.stringify(key)}, at ${found.map(formatPath).join(", ")}: which one is meant is ambiguous`,
      formatPath(found[1]!),
    );
  return found.length === 0 ? defaultValue : valueAt(tree, found[0]!);
}

/** A copy of the containers of `node` along the paths in `paths` (each from `depth` on), the fields at their ends replaced. */
function replaced(
  node: unknown,
  paths: readonly Segment[][],
  depth: number,
  values: Readonly<Record<string, unknown>>,
): unknown {
  const ends = paths.filter((p) => p.length === depth + 1);
  const deeper = paths.filter((p) => p.length > depth + 1);
  const copy = (Array.isArray(node) ? [...(node as unknown[])] : { ...(node as object) }) as Record<Segment, unknown>;
  for (const p of ends) copy[p[depth]!] = values[p[depth] as string];
  const children = new Set(deeper.map((p) => p[depth]!));
  for (const child of children)
    copy[child] = replaced(
      copy[child],
      deeper.filter((p) => p[depth] === child),
      depth + 1,
      values,
    );
  return copy;
}

/**
 * A copy of `tree` with every field named in `values` replaced by its value, wherever it is, as
 * optax's `tree_set`: `tree.set(state, { learningRate: 0.01 })`. Only the containers on the way
 * to a replaced field are copied; the rest (leaves included) is shared with `tree`, which is
 * not modified. A name that is nowhere in `tree` throws `BAD_STATE` (optax raises a
 * `KeyError`); a name found several times is replaced at each place, as in optax.
 *
 * @example
 * ```ts
 * import { injectHyperparams, sgd, tree } from "gradtx";
 * const opt = injectHyperparams((h) => sgd(h.learningRate), { learningRate: 0.1 });
 * const state = tree.set(opt.init(Float64Array.of(1, 2)), { learningRate: 0.01 });
 * tree.get(state, "learningRate"); // 0.01
 * ```
 * @since 0.3.0
 */
export function set<T>(tree: T, values: Readonly<Record<string, unknown>>): T {
  const where = "tree.set";
  if (!isContainer(values) || Array.isArray(values))
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: values must be an object of field name -> new value, e.g. { learningRate: 0.01 }`,
    );
  const keys = Object.keys(values).map((k) => checkKey(where, k));
  const found = findAll(where, tree, new Set(keys));
  for (const key of keys)
    if (!found.some((p) => p[p.length - 1] === key))
      throw new GradTxError("BAD_STATE", `${where}: no field is named ${JSON.stringify(key)}`, "");
  // A field inside a replaced one goes with it.
  const outermost = found.filter((p) => !found.some((q) => q.length < p.length && q.every((s, i) => s === p[i])));
  return replaced(tree, outermost, 0, values) as T;
}
