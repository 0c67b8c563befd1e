/**
 * `gradtx/laws`: property-based testing of optimizer laws, for your own transformations too.
 * fast-check arbitraries for pytrees, gradient sequences and hyperparameters, and checkers
 * that throw a {@link LawViolation} (the law in words and the shrunk counterexample) when a
 * law fails. Needs the `fast-check` peer dependency; `gradtx` itself never loads it.
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, adam } from "gradtx";
 * import { checkTransformationLaws, checkLookaheadLaws } from "gradtx/laws";
 * checkTransformationLaws(chain(clipByGlobalNorm(1), lookahead(adam(1e-3))), { numRuns: 50 });
 * checkLookaheadLaws({ numRuns: 50 });
 * ```
 *
 * @packageDocumentation
 */
export {
  arbitraryLike,
  arbitraryProblem,
  arbitraryTree,
  hyperparameters,
  type Problem,
  type TreeConstraints,
} from "./arbitraries.js";
export {
  assertClose,
  checkChainAssociativity,
  checkChainIdentity,
  checkDeterminism,
  checkFinite,
  checkLookaheadAlphaOne,
  checkLookaheadAlphaZero,
  checkLookaheadLaws,
  checkLookaheadSync,
  checkLookaheadSyncPeriodOne,
  checkPurity,
  checkStructure,
  checkTransformationLaws,
  fingerprint,
  layout,
  LawViolation,
  runProblem,
  type ProblemRun,
  type LawOptions,
  type LookaheadLawOptions,
} from "./checks.js";
