/**
 * Hyperparameter checks, run when a transformation is built.
 *
 * @module
 */
import type { ExtraArgs } from "./base.js";
import { GradTxError } from "./errors.js";

/** The range a numeric hyperparameter must lie in. */
export interface Range {
  readonly min?: number;
  readonly max?: number;
  /** Whether `min` itself is excluded. */
  readonly minExclusive?: boolean;
  /** Whether `max` itself is excluded. */
  readonly maxExclusive?: boolean;
  readonly integer?: boolean;
  /** Whether +Infinity is allowed (it never is unless `max` is absent). */
  readonly infinite?: boolean;
}

function describeRange(r: Range): string {
  const kind = r.integer ? "an integer" : "a number";
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`${r.minExclusive ? ">" : ">="} ${r.min}`);
  if (r.max !== undefined) parts.push(`${r.maxExclusive ? "<" : "<="} ${r.max}`);
  if (r.min !== undefined && r.max !== undefined) {
    const lo = r.minExclusive ? "(" : "[";
    const hi = r.maxExclusive ? ")" : "]";
    return `${kind} in ${lo}${r.min}, ${r.max}${hi}`;
  }
  return parts.length ? `${kind} ${parts.join(" and ")}` : kind;
}

/** The range of a decay rate (a moment's `b1`, `b2`, an EMA's `decay`): [0, 1). */
export const DECAY = { min: 0, max: 1, maxExclusive: true } as const;

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a number in `range`; returns it. */
export function checkNumber(where: string, name: string, value: unknown, range: Range = {}): number {
  const ok =
    typeof value === "number" &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (value === Infinity && range.infinite === true && range.max === undefined)) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || (range.minExclusive ? value > range.min : value >= range.min)) &&
    (range.max === undefined || (range.maxExclusive ? value < range.max : value <= range.max));
  if (!ok) {
    const shown =
      typeof value === "number" ? String(value) : typeof value === "string" ? JSON.stringify(value) : typeof value;
    invalid(where, `${name} must be ${describeRange(range)}, got ${shown}`);
  }
  return value;
}

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a non-negative number or a function (a schedule). */
export function checkScalarOrSchedule(where: string, name: string, value: unknown): void {
  if (typeof value !== "function") checkNumber(where, name, value, { min: 0 });
}

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a boolean. */
export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean") invalid(where, `${name} must be a boolean, got ${typeof value}`);
  return value;
}

/** Throws `INVALID_HYPERPARAMETER` unless `tx` looks like a transformation (`{ init, update }`). */
export function checkTransformation(where: string, tx: unknown): void {
  const t = tx as { init?: unknown; update?: unknown } | null;
  if (typeof t !== "object" || t === null || typeof t.init !== "function" || typeof t.update !== "function")
    invalid(where, "expected a GradientTransformation ({ init, update })");
}

/**
 * The name errors report while an optimizer builds its parts: `rmsprop(0.1, { decay: 2 })` builds
 * a `scaleByRms`, whose check then says `rmsprop: decay ...`. Set only by {@link asFactory}.
 */
let reportingAs: string | undefined;

/** The name to report an error of `where` under: the outermost factory being built, if any. */
export function reportName(where: string): string {
  return reportingAs ?? where;
}

/**
 * Runs `build` so that every hyperparameter error thrown while it runs names `where`, the
 * factory the caller called, rather than the building block that found it. Synchronous, and
 * restored on the way out; an enclosing `asFactory` keeps its own name.
 */
export function asFactory<T>(where: string, build: () => T): T {
  if (reportingAs !== undefined) return build();
  reportingAs = where;
  try {
    return build();
  } finally {
    reportingAs = undefined;
  }
}

/** Throws `INVALID_HYPERPARAMETER` for `where` (reported under the factory being built). */
export function invalid(where: string, message: string): never {
  throw new GradTxError("INVALID_HYPERPARAMETER", `${reportName(where)}: ${message}`);
}

/** Whether `K` lists every key of `T`: the compiler names the missing ones. */
type AllKeys<T, K extends readonly unknown[]> = [Exclude<keyof T, K[number]>] extends [never]
  ? unknown
  : { readonly missingKeys: Exclude<keyof T, K[number]> };

/** What {@link readOptions} says beyond the valid keys. */
export interface OptionHints {
  /**
   * What to write instead of a non-object, e.g. for `sgd`:
   * `optax's sgd(lr, momentum) is sgd(lr, { momentum: 0.9 })`.
   */
  readonly hint?: string;
  /**
   * Foreign names for this factory's options (`k` for `syncPeriod`): name -> a valid key, or a
   * sentence saying where the value goes instead.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /** What the object is called in messages (default `options`), and what its keys are (default `option`). */
  readonly called?: { readonly object: string; readonly key: string };
}

/**
 * Names other libraries (optax, PyTorch, Keras, the papers) give to gradtx's options. Each is
 * offered only to a factory that has the key it points to; snake_case names need no entry (they
 * are matched to camelCase first).
 */
const FOREIGN_NAMES: Readonly<Record<string, string>> = {
  beta1: "b1",
  beta2: "b2",
  beta_1: "b1",
  beta_2: "b2",
  epsilon: "eps",
  k: "syncPeriod",
  la_steps: "syncPeriod",
  slow_step_size: "alpha",
  la_alpha: "alpha",
  wd: "weightDecay",
  decoupled_weight_decay: "weightDecay",
};

/** Sentences for foreign names that are no option at all, whatever the factory. */
const NOT_OPTIONS: Readonly<Record<string, string>> = {
  lr: "the learning rate is the first argument",
  learning_rate: "the learning rate is the first argument",
  learningRate: "the learning rate is the first argument",
  betas: "PyTorch's betas are b1 and b2 here",
};

/** Levenshtein distance, case-insensitive. */
function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[t.length]!;
}

/** What to suggest for an unknown key: an alias, its camelCase form, or the nearest valid key. */
function suggestion(key: string, valid: readonly string[], hints: OptionHints): string | undefined {
  const mean = (k: string): string => `did you mean ${JSON.stringify(k)}?`;
  const own = hints.aliases?.[key];
  if (own !== undefined) return valid.includes(own) ? mean(own) : own;
  const foreign = FOREIGN_NAMES[key] ?? FOREIGN_NAMES[key.toLowerCase()];
  if (foreign !== undefined && valid.includes(foreign)) return mean(foreign);
  if (NOT_OPTIONS[key] !== undefined) return NOT_OPTIONS[key];
  const camel = key.replace(/_+([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase());
  const exact = valid.find((v) => v.toLowerCase() === camel.toLowerCase());
  if (exact !== undefined) return mean(exact);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const v of valid) {
    const d = editDistance(camel, v);
    if (d < bestDistance) [best, bestDistance] = [v, d];
  }
  // A suggestion that shares nothing with the key (every character edited) is noise.
  return best !== undefined && bestDistance < key.length ? mean(best) : undefined;
}

function describeValue(x: unknown): string {
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "bigint") return `the ${typeof x} ${String(x)}`;
  if (typeof x === "string") return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  if (typeof x === "function") return "a function";
  if (typeof x === "symbol") return "a symbol";
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  const name = (Object.getPrototypeOf(x) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === "string" && name !== "" ? `a ${name}` : "an object that is not a plain object";
}

/**
 * Reads a factory's options object strictly, once:
 *
 * - `null` and `undefined` mean no options (`{}`);
 * - anything but a plain object (a number, string, boolean, array, function, Map, class
 *   instance...) throws `INVALID_HYPERPARAMETER`, saying what to write instead (`hints.hint`:
 *   optax users write `sgd(0.1, 0.9)`);
 * - an own enumerable key not in `validKeys` throws, naming the nearest valid key (a foreign
 *   alias such as `k` or `beta1`, the camelCase form of a snake_case name, or the closest by edit
 *   distance) and listing the valid ones;
 * - each value is read exactly once (a getter runs once), into a frozen plain copy that the
 *   factory validates and uses from then on: nothing reads the caller's object again.
 *
 * Factories reassign their `options` parameter to the copy as their first statement.
 */
export function readOptions<T extends object, const K extends readonly (keyof T & string)[]>(
  where: string,
  options: T | null | undefined,
  validKeys: K & AllKeys<T, K>,
  hints: OptionHints = {},
): Readonly<T> {
  if (options === null || options === undefined) return Object.freeze({}) as T;
  const { object, key: noun } = hints.called ?? { object: "options", key: "option" };
  const proto: unknown = typeof options === "object" ? Object.getPrototypeOf(options) : undefined;
  if (typeof options !== "object" || (proto !== Object.prototype && proto !== null)) {
    const instead = hints.hint ?? `write { ${validKeys.join(", ")} }`;
    invalid(where, `${object} must be an object; ${instead} (got ${describeValue(options)})`);
  }
  const keys = Object.keys(options);
  const valid: readonly string[] = validKeys;
  for (const key of keys)
    if (!valid.includes(key)) {
      const hint = suggestion(key, valid, hints);
      invalid(
        where,
        `unknown ${noun} ${JSON.stringify(key)}${hint === undefined ? "" : ` (${hint})`}; its ${noun}s are ${valid.join(", ")}`,
      );
    }
  const copy: Record<string, unknown> = {};
  for (const key of keys) copy[key] = (options as Record<string, unknown>)[key];
  return Object.freeze(copy) as T;
}

/**
 * Reads the `extra` argument of an `update` strictly, once, as {@link readOptions} reads options:
 * `undefined` or `null` is none; anything but a plain object, an unknown key (naming the nearest
 * field) or a field of the wrong type throws `INVALID_HYPERPARAMETER` naming the field. Returns a
 * frozen copy (each field read once), or `undefined` for none.
 */
export function readExtraArgs(where: string, extra: unknown): ExtraArgs | undefined {
  if (extra === undefined || extra === null) return undefined;
  const read = readOptions<ExtraArgs, ["value", "grad", "valueFn", "gradFn"]>(
    where,
    extra as ExtraArgs,
    ["value", "grad", "valueFn", "gradFn"],
    {
      called: { object: "extra", key: "field" },
      hint: "pass { value }, { grad }, { valueFn } or { gradFn } as the fourth argument of update",
    },
  );
  const kind = (x: unknown) => (x === null ? "null" : Array.isArray(x) ? "an array" : typeof x);
  if (read.value !== undefined && typeof read.value !== "number")
    invalid(where, `extra.value must be a number (the loss at params), got ${kind(read.value)}`);
  for (const name of ["valueFn", "gradFn"] as const)
    if (read[name] !== undefined && typeof read[name] !== "function")
      invalid(where, `extra.${name} must be a function of the params, got ${kind(read[name])}`);
  return read;
}

/** The loss `extra.value` of a step, or `MISSING_EXTRA_ARG` saying that `where` reads it and how to pass it. */
export function extraValue(where: string, extra: ExtraArgs | undefined): number {
  const value = extra?.value;
  if (value === undefined)
    throw new GradTxError(
      "MISSING_EXTRA_ARG",
      `${where} reads the loss: pass it as extra.value, the fourth argument of update (update(grads, state, params, { value: loss }))`,
    );
  return value;
}
