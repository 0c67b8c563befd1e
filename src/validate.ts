/**
 * Hyperparameter checks, run when a transformation is built.
 *
 * @module
 */
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
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: ${name} must be ${describeRange(range)}, got ${shown}`);
  }
  return value;
}

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a non-negative number or a function (a schedule). */
export function checkScalarOrSchedule(where: string, name: string, value: unknown): void {
  if (typeof value !== "function") checkNumber(where, name, value, { min: 0 });
}

/** Throws `INVALID_HYPERPARAMETER` unless `value` is a boolean. */
export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== "boolean")
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: ${name} must be a boolean, got ${typeof value}`);
  return value;
}

/** Throws `INVALID_HYPERPARAMETER` unless `tx` looks like a transformation (`{ init, update }`). */
export function checkTransformation(where: string, tx: unknown): void {
  const t = tx as { init?: unknown; update?: unknown } | null;
  if (typeof t !== "object" || t === null || typeof t.init !== "function" || typeof t.update !== "function")
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: expected a GradientTransformation ({ init, update })`);
}
