/**
 * The fp-ts face of gradtx: the same checks, returned as `Either` instead of thrown, and
 * transformations as a `Monoid` under `chain`.
 *
 * @module
 */
import * as E from "fp-ts/lib/Either.js";
import type { Monoid } from "fp-ts/lib/Monoid.js";
import type { ExtraArgs, GradientTransformation } from "./core/base.js";
import { chain, identity } from "./combinators/chain.js";
import { GradTxError } from "./core/errors.js";
import type { AsPyTree, PyTree } from "./core/pytree.js";

/** Runs `thunk`, turning a thrown {@link GradTxError} into `Left`; anything else is a bug and is rethrown. */
function attempt<A>(thunk: () => A): E.Either<GradTxError, A> {
  try {
    return E.right(thunk());
  } catch (e) {
    if (e instanceof GradTxError) return E.left(e);
    throw e;
  }
}

/**
 * Lifts a factory (`adam`, `lookahead`, ...) so that bad hyperparameters give `Left` instead of
 * throwing.
 *
 * @example
 * ```ts
 * import { adam, safeFactory } from "gradtx";
 * import * as E from "fp-ts/lib/Either.js";
 * const safeAdam = safeFactory(adam);
 * E.isLeft(safeAdam(-1)); // true: the learning rate must be >= 0
 * ```
 * @since 0.1.0
 */
export function safeFactory<A extends readonly unknown[], T>(
  factory: (...args: A) => T,
): (...args: A) => E.Either<GradTxError, T> {
  return (...args) => attempt(() => factory(...args));
}

/**
 * `tx.init`, data-last, with errors as `Left`.
 *
 * @example
 * ```ts
 * import { sgd, initEither } from "gradtx";
 * import * as E from "fp-ts/lib/Either.js";
 * E.isLeft(initEither(sgd(0.1))([1, 2] as never)); // true: a number[] is not a leaf
 * ```
 * @since 0.1.0
 */
export function initEither<S>(
  tx: GradientTransformation<S>,
): <P>(params: PyTree | AsPyTree<P>) => E.Either<GradTxError, S> {
  return (params) => attempt(() => tx.init(params));
}

/**
 * `tx.update`, data-last, with errors (mismatched trees, missing params, a bad state) as `Left`.
 *
 * @example
 * ```ts
 * import { sgd, updateEither } from "gradtx";
 * import * as E from "fp-ts/lib/Either.js";
 * const tx = sgd(0.1, { momentum: 0.9 });
 * const step = updateEither(tx);
 * const state = tx.init({ w: Float64Array.of(1) });
 * const result = step({ v: Float64Array.of(1) }, state);
 * E.isLeft(result) && result.left.code; // "STRUCTURE_MISMATCH"
 * ```
 * @since 0.1.0
 */
export function updateEither<S>(
  tx: GradientTransformation<S>,
): <U, P>(
  updates: PyTree | AsPyTree<U>,
  state: S,
  params?: PyTree | AsPyTree<P>,
  extra?: ExtraArgs,
) => E.Either<GradTxError, readonly [PyTree, S]> {
  return (updates, state, params, extra) => attempt(() => tx.update(updates, state, params, extra));
}

/**
 * Transformations form a monoid under {@link chain} with {@link identity} as the unit: on update
 * trajectories, `concat(a, concat(b, c))` equals `concat(concat(a, b), c)` and
 * `concat(identity(), a)` equals `a` (the states nest differently).
 *
 * @example
 * ```ts
 * import { monoidTransformation, scale, clipByGlobalNorm } from "gradtx";
 * import { concatAll } from "fp-ts/lib/Monoid.js";
 * const tx = concatAll(monoidTransformation)([clipByGlobalNorm(1), scale(-0.1)]);
 * ```
 * @since 0.1.0
 */
export const monoidTransformation: Monoid<GradientTransformation> = {
  concat: (a, b) => chain(a, b),
  empty: identity(),
};
