/**
 * Pytrees: the nested containers of typed arrays that gradtx transforms.
 *
 * Everything here walks a tree once per call, never once per element: transformations
 * flatten their trees to lists of leaves, run one tight loop per leaf and rebuild the result.
 *
 * @module
 */
import ndarray from "ndarray";
import { GradTxError } from "./errors.js";
import { freshArray } from "./fresh.js";

/** A dense floating-point buffer: the element types gradtx computes with. @since 0.1.0 */
export type FloatArray = Float32Array | Float64Array;

/**
 * A scijs `ndarray` whose `.data` is a `Float32Array` or `Float64Array`, as gradtx reads it: the
 * fields below, which every `ndarray(data, shape)` has. gradtx declares them itself, so its types
 * need no ndarray type package in your project.
 *
 * @since 0.1.0
 */
export interface FloatNdArray<D extends FloatArray = FloatArray> {
  /** The elements, laid out by `offset` and `stride`. */
  readonly data: D;
  /** The length of each dimension. */
  readonly shape: readonly number[];
  /** The step in `data` along each dimension. */
  readonly stride: readonly number[];
  /** Where the first element is in `data`. */
  readonly offset: number;
  /** The number of elements: the product of `shape`. */
  readonly size: number;
}

/**
 * A leaf of a pytree: a `Float32Array`, a `Float64Array` or an ndarray over one of them.
 * Scalars are one-element arrays (`Float64Array.of(x)`).
 *
 * @since 0.1.0
 */
export type Leaf = FloatArray | FloatNdArray;

/**
 * A pytree: a leaf, an empty subtree (`null`/`undefined`), an array (tuple) of pytrees, or a
 * plain object of pytrees. Object keys are visited in sorted order, as in JAX.
 *
 * @example
 * ```ts
 * import type { PyTree } from "gradtx";
 * const params: PyTree = {
 *   layers: [{ w: new Float32Array(784 * 64), b: new Float32Array(64) }],
 *   scale: Float64Array.of(1),
 * };
 * ```
 * @since 0.1.0
 */
export type PyTree = Leaf | null | undefined | readonly PyTree[] | { readonly [key: string]: PyTree };

/**
 * `T` checked as a pytree, for the parameters that take one: `T` itself where it is a
 * {@link PyTree}, and otherwise `T` with each part checked, so that params declared with an
 * `interface` (which has no index signature, so is no `PyTree`) are accepted. A part that is no
 * pytree (a string, a number, a function, an `Int32Array`) becomes `never`, which no argument
 * matches.
 *
 * @example
 * ```ts
 * import { adam, type AsPyTree } from "gradtx";
 * interface Params {
 *   w: Float32Array;
 *   b: Float32Array;
 * }
 * const params: Params = { w: new Float32Array(4), b: new Float32Array(2) };
 * const state = adam(1e-3).init(params); // accepted, interface and all
 * type Checked = AsPyTree<{ w: Float32Array; name: string }>; // { readonly w: Float32Array; readonly name: never }
 * ```
 * @since 0.3.0
 */
export type AsPyTree<T> = [T] extends [PyTree]
  ? T
  : T extends Leaf | null | undefined
    ? T
    : T extends (...args: never[]) => unknown
      ? never
      : T extends object
        ? { readonly [K in keyof T]: AsPyTree<T[K]> }
        : never;

/**
 * An object or array type whose every part is a pytree, as an `interface` of params is: the
 * constraint `P extends PyTree | PyTreeLike<P>` of the functions that return a tree of your
 * params' type, such as {@link applyUpdates}.
 *
 * @since 0.3.0
 */
export type PyTreeLike<P> = object & { readonly [K in keyof P]: AsPyTree<P[K]> };

/**
 * The shape of a tree without its leaves: what must agree between `grads`, `params` and the
 * trees inside a state. Leaves are all one node; their lengths and shapes are compared from the
 * leaves themselves.
 *
 * @since 0.1.0
 */
export type TreeDef =
  | {
      /** A leaf. */
      readonly kind: "leaf";
    }
  | {
      /** An empty subtree. */
      readonly kind: "none";
      /** Which empty value it was. */
      readonly value: null | undefined;
    }
  | {
      /** An array (tuple). */
      readonly kind: "array";
      /** Its elements' structures. */
      readonly children: readonly TreeDef[];
    }
  | {
      /** A plain object. */
      readonly kind: "object";
      /** Its keys, sorted. */
      readonly keys: readonly string[];
      /** Its values' structures, in key order. */
      readonly children: readonly TreeDef[];
    };

/** A tree taken apart: its leaves in canonical order and the structure to rebuild it. */
export interface Flat {
  readonly def: TreeDef;
  readonly leaves: readonly Leaf[];
  /**
   * The leaves themselves when every one is a typed array (its own data), else undefined: what
   * {@link denseLeaves} gives without a pass over the leaves.
   */
  readonly data?: readonly FloatArray[] | undefined;
}

const LEAF: TreeDef = { kind: "leaf" };
const NULL: TreeDef = { kind: "none", value: null };
const UNDEFINED: TreeDef = { kind: "none", value: undefined };
/**
 * The deepest nesting gradtx walks, in trees and in states: 1,000 containers. Anything deeper
 * (or cyclic) throws `GradTxError` (`NOT_A_PYTREE` for a tree, `BAD_STATE` for a state) instead
 * of overflowing the stack; real models nest a few levels.
 */
export const MAX_DEPTH = 1000;

type Segment = string | number;

/** Formats a path as JavaScript accessors: `layers[1].w`, `["odd key"]`; the root is "". */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Whether `x` is a `Float32Array` or `Float64Array`. */
export function isFloatArray(x: unknown): x is FloatArray {
  // ArrayBuffer.isView checks for a real typed array: an object whose prototype is one
  // (Object.create(Float32Array.of(1))) passes instanceof but throws on every read.
  return (x instanceof Float32Array || x instanceof Float64Array) && ArrayBuffer.isView(x);
}

function isNdArrayLike(x: object): x is { data: unknown; shape: number[]; stride: number[]; offset: number } {
  const o = x as Record<string, unknown>;
  return Array.isArray(o.shape) && Array.isArray(o.stride) && typeof o.offset === "number" && "data" in o;
}

/** Whether `x` is a leaf: a float typed array, or an ndarray over one whose layout stays inside it. */
export function isLeaf(x: unknown): x is Leaf {
  return (
    isFloatArray(x) ||
    (typeof x === "object" &&
      x !== null &&
      isNdArrayLike(x) &&
      isFloatArray(x.data) &&
      badLayout(x as unknown as FloatNdArray) === undefined)
  );
}

function isPlainObject(x: object): boolean {
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return `a ${typeof x}`;
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  const name = (Object.getPrototypeOf(x) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}` : "an object";
}

function notAPyTree(x: unknown, path: readonly Segment[]): GradTxError {
  let advice = "use a Float32Array, a Float64Array, an ndarray over one, an array or a plain object";
  if (typeof x === "number") advice = "a scalar is a one-element leaf: use Float64Array.of(x)";
  else if (Array.isArray(x)) advice = "a list of numbers is not a leaf: use Float64Array.from(xs)";
  else if (ArrayBuffer.isView(x))
    advice = "a leaf must be a Float32Array or Float64Array: convert with Float64Array.from(x)";
  else if (typeof x === "object" && x !== null && isNdArrayLike(x))
    advice = "an ndarray leaf must be backed by a Float32Array or Float64Array";
  else if (x instanceof Map) advice = "use a plain object instead of a Map";
  return new GradTxError("NOT_A_PYTREE", `expected a pytree, got ${describe(x)}: ${advice}`, formatPath(path));
}

/** Thrown by `walk` past {@link MAX_DEPTH}; `flatten` tells a cycle from a deep tree. */
class TooDeep {}

/**
 * The error for a walk that went past {@link MAX_DEPTH} along `path` from `root`: a cycle, at the
 * path where a container comes back, or a tree nested too deep. Found only once the limit is hit,
 * so that a normal walk keeps no record of its ancestors.
 */
function tooDeep(root: unknown, path: readonly Segment[]): GradTxError {
  const seen = new Map<unknown, number>();
  let node = root;
  for (let i = 0; i <= path.length; i++) {
    if (seen.has(node))
      return new GradTxError("NOT_A_PYTREE", "the tree contains itself (a cycle)", formatPath(path.slice(0, i)));
    seen.set(node, i);
    if (i < path.length) node = (node as Record<string | number, unknown>)[path[i]!];
  }
  return new GradTxError("NOT_A_PYTREE", `tree nested deeper than ${MAX_DEPTH} levels`, formatPath(path));
}

/**
 * What is wrong with an ndarray's layout, if anything: its shape, strides and offset must be
 * integers that reach only elements of its `.data` (and `size` the product of the shape), or
 * reading it would give `undefined`s that turn into NaN.
 */
function badLayout(x: FloatNdArray): string | undefined {
  const { shape, stride, offset } = x;
  if (stride.length !== shape.length)
    return `shape [${shape.join(",")}] has ${shape.length} dimensions, stride has ${stride.length}`;
  if (!Number.isSafeInteger(offset)) return `offset ${offset} is not an integer`;
  let size = 1;
  let low = offset;
  let high = offset;
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    const step = stride[d]!;
    if (!Number.isSafeInteger(n) || n < 0)
      return `dimension ${d} of shape [${shape.join(",")}] is not a non-negative integer`;
    if (!Number.isSafeInteger(step)) return `stride ${step} of dimension ${d} is not an integer`;
    size *= n;
    if (step > 0) high += (n - 1) * step;
    else low += (n - 1) * step;
  }
  if (typeof x.size === "number" && x.size !== size)
    return `size ${x.size} is not the product of shape [${shape.join(",")}]`;
  if (size > 0 && (low < 0 || high >= x.data.length))
    return `shape [${shape.join(",")}], stride [${stride.join(",")}] and offset ${offset} reach elements ${low}..${high} of data of length ${x.data.length}`;
  return undefined;
}

/** Whether `keys` are in the order `Array.prototype.sort` gives (UTF-16 code units). */
function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/**
 * A plain object's own enumerable keys, sorted, and their values in `values`. A `for...in` reads
 * a fast-mode object (as an object literal or `Object.fromEntries` makes one) from its
 * enumeration cache: in Node 20, 1,000 keys and values in about 25 µs, against 105 for
 * `Object.keys` and a read per key. A dictionary-mode object is the other way round, and a
 * `for...in` that has met dictionaries reads every object slowly, so the wide trees gradtx builds
 * as dictionaries (see {@link objectFor}) are read by `Object.keys`.
 */
function ownEntries(x: Record<string, unknown>, values: unknown[]): string[] {
  let keys: string[];
  if (dictionaries.has(x)) {
    keys = Object.keys(x);
    for (let i = 0; i < keys.length; i++) values.push(x[keys[i]!]);
  } else {
    keys = [];
    for (const key in x)
      if (Object.prototype.hasOwnProperty.call(x, key)) {
        keys.push(key);
        values.push(x[key]);
      }
  }
  // Trees gradtx builds, and most users', list their keys in order already: one linear check
  // spares a sort of a thousand keys on every flatten.
  if (!inOrder(keys)) {
    keys.sort();
    for (let i = 0; i < keys.length; i++) values[i] = x[keys[i]!];
  }
  return keys;
}

function walk(x: unknown, leaves: Leaf[], path: Segment[]): TreeDef {
  if (x === null) return NULL;
  if (x === undefined) return UNDEFINED;
  if (typeof x !== "object") throw notAPyTree(x, path);
  if (isFloatArray(x)) {
    leaves.push(x);
    return LEAF;
  }
  if (path.length >= MAX_DEPTH) throw new TooDeep();
  if (Array.isArray(x)) {
    if (x.length > 0 && typeof x[0] === "number") throw notAPyTree(x, path);
    const children = new Array<TreeDef>(x.length);
    for (let i = 0; i < x.length; i++) {
      const child: unknown = x[i];
      if (isFloatArray(child)) {
        leaves.push(child);
        children[i] = LEAF;
        continue;
      }
      path.push(i);
      children[i] = walk(child, leaves, path);
      path.pop();
    }
    return { kind: "array", children };
  }
  if (isNdArrayLike(x)) {
    if (!isFloatArray(x.data)) throw notAPyTree(x, path);
    const layout = badLayout(x as unknown as FloatNdArray);
    if (layout !== undefined) throw new GradTxError("NOT_A_PYTREE", `malformed ndarray: ${layout}`, formatPath(path));
    leaves.push(x as unknown as FloatNdArray);
    shapedLeaves++;
    return LEAF;
  }
  if (!isPlainObject(x)) throw notAPyTree(x, path);
  const values: unknown[] = [];
  const keys = ownEntries(x as Record<string, unknown>, values);
  const children = new Array<TreeDef>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const child = values[i];
    // A typed array, the usual child, is taken here: a walk of it would only push it.
    if (isFloatArray(child)) {
      leaves.push(child);
      children[i] = LEAF;
      continue;
    }
    path.push(key);
    children[i] = walk(child, leaves, path);
    path.pop();
  }
  return { kind: "object", keys, children };
}

/**
 * Takes a tree apart into its leaves (sorted-key order) and its structure.
 * Throws `NOT_A_PYTREE`, with the path, for anything that is not a pytree, including a cyclic
 * tree and one nested deeper than {@link MAX_DEPTH}.
 */
export function flatten(tree: unknown): Flat {
  const leaves: Leaf[] = [];
  const path: Segment[] = [];
  let def: TreeDef;
  shapedLeaves = 0;
  try {
    def = walk(tree, leaves, path);
  } catch (e) {
    // The path is left where the walk stopped.
    if (e instanceof TooDeep) throw tooDeep(tree, path);
    throw e;
  }
  return { def, leaves, data: shapedLeaves === 0 ? (leaves as FloatArray[]) : undefined };
}

/**
 * The ndarray leaves the walk of the current {@link flatten} has met (a tree of typed arrays
 * alone is its own dense form).
 */
let shapedLeaves = 0;

/** A flat form over `leaves`, with its dense form when they are all typed arrays. */
export function flatOf(def: TreeDef, leaves: readonly Leaf[]): Flat {
  let dense = true;
  for (let i = 0; dense && i < leaves.length; i++) dense = isFloatArray(leaves[i]);
  return { def, leaves, data: dense ? (leaves as readonly FloatArray[]) : undefined };
}

/**
 * Each leaf's elements as one row-major typed array (see {@link dataOf}), in canonical order:
 * for a tree of typed arrays, its leaves as they are. Must only be read.
 */
export function denseLeaves(flat: Flat): readonly FloatArray[] {
  return flat.data ?? flat.leaves.map(dataOf);
}

/** Objects with more keys than this are built as dictionaries (see {@link objectFor}). */
const WIDE = 32;

/**
 * The objects {@link objectFor} put in dictionary mode, so that a walk reads them the way that
 * suits them (see {@link ownEntries}). Weak: a mark on objects gradtx built, which keeps none of
 * them alive.
 */
const dictionaries = new WeakSet<object>();

/**
 * An empty plain object to receive `keys` keys. A wide one is put in V8's dictionary mode at once
 * (two keys added and deleted): adding a thousand keys one by one to `{}` follows the engine's
 * chain of hidden classes, which the user's own tree of those keys has already built, and took
 * 450 µs in Node 20, against 90 µs into a dictionary; reading all thousand back took 62 against
 * 19 µs. Other engines see an ordinary object either way.
 */
function objectFor(keys: number): Record<string, PyTree> {
  const out: Record<string, PyTree> = {};
  if (keys > WIDE) {
    // Two, deleted first to last: deleting only the last key added takes the object back to its
    // hidden class before it, still not a dictionary.
    out[" "] = null;
    out["  "] = null;
    delete out[" "];
    delete out["  "];
    dictionaries.add(out);
  }
  return out;
}

/** Rebuilds a tree of the structure `def` from leaves in canonical order. */
export function unflatten(def: TreeDef, leaves: readonly PyTree[]): PyTree {
  let next = 0;
  const build = (d: TreeDef): PyTree => {
    switch (d.kind) {
      case "leaf":
        return leaves[next++];
      case "none":
        return d.value;
      case "array":
        return d.children.map(build);
      case "object": {
        const out = objectFor(d.keys.length);
        for (let i = 0; i < d.keys.length; i++) out[d.keys[i]!] = build(d.children[i]!);
        return out;
      }
    }
  };
  const tree = build(def);
  if (next !== leaves.length) throw new Error(`internal: unflatten used ${next} of ${leaves.length} leaves`);
  return tree;
}

/** The paths of the leaves of `def`, in canonical order (computed only to report errors). */
export function leafPaths(def: TreeDef): string[] {
  const out: string[] = [];
  const path: Segment[] = [];
  const visit = (d: TreeDef): void => {
    if (d.kind === "leaf") out.push(formatPath(path));
    else if (d.kind === "array" || d.kind === "object")
      d.children.forEach((c, i) => {
        path.push(d.kind === "object" ? d.keys[i]! : i);
        visit(c);
        path.pop();
      });
  };
  visit(def);
  return out;
}

function kindName(d: TreeDef): string {
  if (d.kind === "none") return String(d.value);
  return d.kind === "leaf" ? "a leaf" : d.kind === "array" ? "an array" : "an object";
}

function compareDefs(expected: TreeDef, actual: TreeDef, path: Segment[]): void {
  if (expected === actual) return;
  const fail = (message: string): never => {
    throw new GradTxError("STRUCTURE_MISMATCH", message, formatPath(path));
  };
  if (
    expected.kind !== actual.kind ||
    (expected.kind === "none" && actual.kind === "none" && expected.value !== actual.value)
  )
    fail(`expected ${kindName(expected)}, got ${kindName(actual)}`);
  if (expected.kind === "array" && actual.kind === "array") {
    if (expected.children.length !== actual.children.length)
      fail(`expected an array of length ${expected.children.length}, got length ${actual.children.length}`);
    for (let i = 0; i < expected.children.length; i++) {
      // A leaf's structure is one object: equal children need no call (most are leaves).
      if (expected.children[i] === actual.children[i]) continue;
      path.push(i);
      compareDefs(expected.children[i]!, actual.children[i]!, path);
      path.pop();
    }
  } else if (expected.kind === "object" && actual.kind === "object") {
    const e = expected.keys;
    const a = actual.keys;
    let same = e.length === a.length;
    for (let i = 0; same && i < e.length; i++) same = e[i] === a[i];
    if (!same) fail(`expected keys [${e.join(",")}], got [${a.join(",")}]`);
    for (let i = 0; i < e.length; i++) {
      if (expected.children[i] === actual.children[i]) continue;
      path.push(e[i]!);
      compareDefs(expected.children[i]!, actual.children[i]!, path);
      path.pop();
    }
  }
}

/**
 * The last structure each structure was found equal to: a memo of a comparison of values that do
 * not change (a `TreeDef` is never modified), so that the state trees of one step, which share a
 * structure, are compared with the step's updates once. Weak: it keeps no tree alive. Identical
 * structures (a state tree built on the updates' own) never reach it.
 */
const equalDefs = new WeakMap<TreeDef, TreeDef>();

/**
 * The last flat form each flat form passed a check against, one memo per check: a compiled step
 * checks the same state trees against the same updates every step, and a step checks one pair
 * more than once. A `Flat` is never modified, and its leaves' lengths and shapes do not change
 * (typed arrays, and ndarrays whose shapes the state trees freeze), so a pair that passed once
 * passes again. Weak: it keeps no tree alive.
 *
 * Only trees of {@link MEMO_LEAVES} leaves or more are remembered: below, comparing the leaves
 * again costs less than the weak entry a pure step's fresh flat forms would add, which the
 * collector then traces (without the bound, a pure step of one leaf took ~1.4x as long; with no
 * memo at all, a pure step of chain(clip, lookahead(adam)) over 1,000 leaves took ~1.1x as long).
 */
const agreed = new WeakMap<Flat, Flat>();
const agreedShapes = new WeakMap<Flat, Flat>();
const MEMO_LEAVES = 16;

/** Compares two structures, memoised by {@link equalDefs}. */
function assertSameDefs(expected: TreeDef, actual: TreeDef): void {
  if (expected === actual || equalDefs.get(expected) === actual) return;
  compareDefs(expected, actual, []);
  equalDefs.set(expected, actual);
}

/** The shape of a leaf: an ndarray's shape, or `[length]` for a typed array. */
export function shapeOf(leaf: Leaf): readonly number[] {
  return isFloatArray(leaf) ? [leaf.length] : leaf.shape;
}

/** The number of elements of a leaf. */
export function sizeOf(leaf: Leaf): number {
  // An ndarray copied by structuredClone keeps its fields but not the `size` getter.
  return isFloatArray(leaf)
    ? leaf.length
    : typeof leaf.size === "number"
      ? leaf.size
      : leaf.shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that `actual` has the structure of `expected`: the same node kinds, keys, tuple
 * lengths and leaf lengths, and the same shapes where both leaves are ndarrays. Throws
 * `STRUCTURE_MISMATCH` or `SHAPE_MISMATCH` with the path of the first difference.
 */
export function assertSameStructure(expected: Flat, actual: Flat): void {
  const memo = expected.leaves.length >= MEMO_LEAVES;
  if (memo && agreed.get(expected) === actual) return;
  assertSameDefs(expected.def, actual.def);
  const e = expected.leaves;
  const a = actual.leaves;
  for (let i = 0; i < e.length; i++) {
    const x = e[i]!;
    const y = a[i]!;
    if (x === y) continue;
    const xFlat = isFloatArray(x);
    const yFlat = isFloatArray(y);
    const same =
      !xFlat && !yFlat
        ? sameShape(x.shape, y.shape)
        : (xFlat ? x.length : sizeOf(x)) === (yFlat ? y.length : sizeOf(y));
    if (!same) throw leafMismatch(expected.def, i, x, y);
  }
  if (memo) agreed.set(expected, actual);
}

// The loop above calls these rather than holding closures: a closure over a loop's variables
// makes the engine allocate their scope on every iteration (in Node 20, 47 bytes a leaf, run or
// not), and a step checks thousands of leaves.

/** Whether two shapes are equal. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/** The error for leaf `i` of `def`, whose expected leaf is `x` and actual one `y`. */
function leafMismatch(def: TreeDef, i: number, x: Leaf, y: Leaf): GradTxError {
  const bothShaped = !isFloatArray(x) && !isFloatArray(y);
  const show = (l: Leaf): string => (bothShaped ? `[${shapeOf(l).join(",")}]` : String(sizeOf(l)));
  return new GradTxError(
    "SHAPE_MISMATCH",
    `expected ${bothShaped ? "shape" : "length"} ${show(x)}, got ${show(y)}`,
    leafPaths(def)[i],
  );
}

function isContiguous(x: FloatNdArray): boolean {
  let expected = 1;
  for (let d = x.shape.length - 1; d >= 0; d--) {
    const n = x.shape[d]!;
    if (n !== 1 && x.stride[d] !== expected) return false;
    expected *= n;
  }
  return true;
}

/**
 * A record of the leaves' shapes: a tree of `flat`'s structure whose leaves hold each leaf's
 * dimensions (a typed array's are `[length]`). The states of transformations that keep no tree
 * like the params keep this, so that they too check the updates they are given.
 */
export function shapesOf(flat: Flat): PyTree {
  return unflatten(
    flat.def,
    flat.leaves.map((leaf) => Float64Array.from(shapeOf(leaf))),
  );
}

/**
 * Checks `actual` against a record made by {@link shapesOf}, by the rule of
 * {@link assertSameStructure}: the same structure and leaf lengths, and the same shapes where the
 * recorded leaf and the actual one both have two or more dimensions (a recorded leaf of one
 * dimension may have been a typed array). Throws `BAD_STATE` for a record that holds anything but
 * dimensions.
 */
export function assertShapes(recorded: Flat, actual: Flat, where: string): void {
  const memo = recorded.leaves.length >= MEMO_LEAVES;
  if (memo && agreedShapes.get(recorded) === actual) return;
  assertSameDefs(recorded.def, actual.def);
  for (let i = 0; i < recorded.leaves.length; i++) {
    const dims = recorded.leaves[i]!;
    const y = actual.leaves[i]!;
    // The usual leaf, a typed array of the recorded length: that length is a valid dimension.
    if (dims instanceof Float64Array && dims.length === 1 && isFloatArray(y) && dims[0] === y.length) continue;
    let size = 1;
    let valid = dims instanceof Float64Array;
    for (let d = 0; valid && d < (dims as Float64Array).length; d++) {
      const n = (dims as Float64Array)[d]!;
      valid = Number.isSafeInteger(n) && n >= 0;
      size *= n;
    }
    if (!(dims instanceof Float64Array) || !valid)
      throw new GradTxError(
        "BAD_STATE",
        `${where}: expected the dimensions of a leaf, got ${describe(dims)}`,
        leafPaths(recorded.def)[i],
      );
    const shaped = dims.length > 1 && !isFloatArray(y);
    let same = shaped ? y.shape.length === dims.length : sizeOf(y) === size;
    if (shaped) for (let d = 0; same && d < dims.length; d++) same = y.shape[d] === dims[d];
    if (!same)
      throw new GradTxError(
        "SHAPE_MISMATCH",
        shaped
          ? `expected shape [${dims.join(",")}], got [${y.shape.join(",")}]`
          : `expected length ${size}, got ${sizeOf(y)}`,
        leafPaths(recorded.def)[i],
      );
  }
  if (memo) agreedShapes.set(recorded, actual);
}

/**
 * The elements of a leaf as one row-major typed array. Typed arrays and contiguous ndarrays
 * give a view that must only be read; a strided ndarray view is gathered into a new array.
 */
export function dataOf(leaf: Leaf): FloatArray {
  if (isFloatArray(leaf)) return leaf;
  const data = leaf.data;
  const size = sizeOf(leaf);
  if (size === 0) return data.subarray(0, 0);
  if (isContiguous(leaf)) {
    return leaf.offset === 0 && data.length === size ? data : data.subarray(leaf.offset, leaf.offset + size);
  }
  const out = new (ctorOf(leaf))(size);
  gather(leaf, out);
  return out;
}

/**
 * Copies a strided ndarray's elements into `out` in row-major order: an odometer over the outer
 * dimensions and a tight loop along the last.
 *
 * Why not ndarray-ops's `assign`, which is made for this: ndarray-ops compiles its operations
 * with `new Function` when its module loads, so importing it here would put code generation
 * from strings on the load path of every program, and gradtx could not load in a page whose
 * Content-Security-Policy forbids `'unsafe-eval'`. A copy is the one strided operation gradtx
 * needs (every pass then runs on the contiguous result), so it is written once, here, for every
 * host; ndarray-ops serves in `gradtx/laws`, which builds strided views to test transformations
 * with.
 */
function gather(leaf: FloatNdArray, out: FloatArray): void {
  const { data, shape, stride } = leaf;
  const last = shape.length - 1;
  if (last < 0) {
    if (out.length > 0) out[0] = data[leaf.offset]!;
    return;
  }
  const n = shape[last]!;
  const step = stride[last]!;
  const index = new Array<number>(last).fill(0);
  for (let o = 0, at = leaf.offset; o < out.length;) {
    for (let j = 0, p = at; j < n; j++, p += step) out[o++] = data[p]!;
    let d = last - 1;
    for (; d >= 0; d--) {
      at += stride[d]!;
      if (++index[d]! < shape[d]!) break;
      at -= stride[d]! * shape[d]!;
      index[d] = 0;
    }
    if (d < 0) break;
  }
}

/** The typed-array constructor of a leaf's elements. */
export function ctorOf(leaf: Leaf): Float32ArrayConstructor | Float64ArrayConstructor {
  const data = isFloatArray(leaf) ? leaf : leaf.data;
  return data instanceof Float32Array ? Float32Array : Float64Array;
}

/** Wraps row-major `data` as a leaf of the same kind as `like` (an ndarray of its shape, or the array itself). */
export function asLeafLike(like: Leaf, data: FloatArray): Leaf {
  if (isFloatArray(like)) return data;
  return ndarray(data, like.shape.slice()) as FloatNdArray;
}

/** Flattens `tree`, throwing `NOT_A_PYTREE` with its path, and checks it against `expected`. */
export function flattenLike(expected: Flat, tree: unknown): Flat {
  const flat = flatten(tree);
  assertSameStructure(expected, flat);
  return flat;
}

/**
 * Leaf by leaf `kernel(x, y, out)` over two trees of one structure, in `a`'s dtypes and kinds.
 * `out` is a fresh array, or with `inPlace` what `target` gives, by default `a`'s own elements (a
 * kernel may then write element j of `out` after reading element j of `x`); a strided ndarray
 * leaf of `a` is gathered first, and the result wraps the gathered array.
 */
export function zipLeaves(
  a: PyTree,
  b: PyTree,
  kernel: (x: FloatArray, y: FloatArray, out: FloatArray) => void,
  inPlace = false,
  target: (x: FloatArray, y: FloatArray) => FloatArray = (x) => x,
): PyTree {
  const fa = flatten(a);
  const fb = flatten(b);
  assertSameStructure(fa, fb);
  return unflatten(
    fa.def,
    fa.leaves.map((leaf, i) => {
      const x = dataOf(leaf);
      const y = dataOf(fb.leaves[i]!);
      const out = inPlace ? target(x, y) : freshArray(ctorOf(leaf), x.length);
      kernel(x, y, out);
      const own = inPlace && out === x && (isFloatArray(leaf) || x.buffer === leaf.data.buffer);
      return own ? leaf : asLeafLike(leaf, out);
    }),
  );
}

/**
 * Leaf by leaf `kernel(x, out, i)` over one tree (`i` the leaf's index in canonical order), into
 * new arrays of each leaf's dtype, wrapped as leaves of its kind.
 */
export function mapLeaves(tree: PyTree, kernel: (x: FloatArray, out: FloatArray, leaf: number) => void): PyTree {
  const f = flatten(tree);
  return unflatten(
    f.def,
    f.leaves.map((leaf, i) => {
      const x = dataOf(leaf);
      const out = new (ctorOf(leaf))(x.length);
      kernel(x, out, i);
      return asLeafLike(leaf, out);
    }),
  );
}
