/**
 * The one error class gradtx throws, and its codes.
 *
 * @module
 */

/**
 * What went wrong, as a stable machine-readable code.
 *
 * - `INVALID_HYPERPARAMETER`: a factory got a hyperparameter outside its range.
 * - `STRUCTURE_MISMATCH`: two trees differ in node kinds, key sets or tuple lengths.
 * - `SHAPE_MISMATCH`: two trees agree in structure but a leaf differs in length or shape.
 * - `NOT_A_PYTREE`: a value is not a leaf, `null`/`undefined`, an array or a plain object.
 * - `MISSING_PARAMS`: a transformation that reads `params` was called without them.
 * - `MISSING_EXTRA_ARG`: a transformation that reads a field of `extra` (the loss `value`, say)
 *   was called without it; the message names the field.
 * - `BAD_STATE`: a state is not what this transformation produced.
 *
 * @since 0.1.0
 */
export type GradTxErrorCode =
  | "INVALID_HYPERPARAMETER"
  | "STRUCTURE_MISMATCH"
  | "SHAPE_MISMATCH"
  | "NOT_A_PYTREE"
  | "MISSING_PARAMS"
  | "MISSING_EXTRA_ARG"
  | "BAD_STATE";

/**
 * Marks gradtx's errors, under a key shared by every copy of gradtx in a process (the ESM and
 * the CommonJS builds are two copies when a program loads both).
 */
const BRAND: unique symbol = Symbol.for("gradtx.GradTxError");

/**
 * The only error gradtx throws. `code` says what kind of problem it is and `path`, where it
 * applies, names the offending place in a tree (`layers[1].w`; the empty string is the root).
 *
 * `instanceof GradTxError` is true of an error thrown by any copy of gradtx in the process, so it
 * holds when a program `require`s the CommonJS build and also `import`s the ESM build.
 *
 * @example
 * ```ts
 * import { adam, GradTxError } from "gradtx";
 * let code: string | undefined;
 * try {
 *   adam(-1);
 * } catch (e) {
 *   if (e instanceof GradTxError) code = e.code;
 * }
 * code; // "INVALID_HYPERPARAMETER"
 * ```
 * @since 0.1.0
 */
export class GradTxError extends Error {
  /** The kind of problem. */
  readonly code: GradTxErrorCode;
  /** Where in the tree, when the problem has a place. */
  readonly path: string | undefined;

  /**
   * True of the errors of every copy of gradtx (by a registered symbol on their prototype); a
   * subclass keeps the ordinary prototype-chain test.
   */
  static override [Symbol.hasInstance](value: unknown): value is GradTxError {
    if (this !== GradTxError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  constructor(code: GradTxErrorCode, message: string, path?: string) {
    super(path === undefined ? message : `${path === "" ? "(root)" : path}: ${message}`);
    this.name = "GradTxError";
    this.code = code;
    this.path = path;
  }
}

Object.defineProperty(GradTxError.prototype, BRAND, { value: true });
