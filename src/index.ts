/**
 * gradtx: optax-style gradient transformations for TypeScript, with Lookahead as a
 * first-class combinator.
 *
 * @packageDocumentation
 */
export { GradTxError, type GradTxErrorCode } from "./errors.js";
export { isLeaf, type FloatArray, type FloatNdArray, type Leaf, type PyTree, type TreeDef } from "./pytree.js";
export {
  identity,
  type EmptyState,
  type GradientTransformation,
  type ScalarOrSchedule,
  type Schedule,
} from "./base.js";
export { applyUpdates } from "./apply.js";
export { chain } from "./combine.js";
export {
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scaleBySchedule,
  type AdamOptions,
  type ScaleByAdamState,
  type ScaleByScheduleState,
} from "./transforms/scaling.js";
export { trace, type TraceState } from "./transforms/accumulation.js";
export { addDecayedWeights, type Mask, type MaskTree } from "./transforms/adding.js";
export { clipByGlobalNorm } from "./transforms/clipping.js";
export { adam, adamw, sgd, type AdamWOptions } from "./alias.js";
export {
  lookahead,
  slowParams,
  type InnerStatePolicy,
  type LookaheadOptions,
  type LookaheadState,
} from "./lookahead.js";
export { initEither, monoidTransformation, safeFactory, updateEither } from "./either.js";
export * as tree from "./tree.js";
export { deserializeParams, deserializeState, serializeParams, serializeState } from "./serialize.js";
