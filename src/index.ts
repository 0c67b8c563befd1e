/**
 * gradtx: optax-style gradient transformations for TypeScript, with Lookahead as a
 * first-class combinator.
 *
 * @packageDocumentation
 */
export { GradTxError, type GradTxErrorCode } from "./core/errors.js";
export {
  isLeaf,
  type AsPyTree,
  type FloatArray,
  type FloatNdArray,
  type Leaf,
  type PyTree,
  type PyTreeLike,
  type TreeDef,
} from "./core/pytree.js";
export {
  type EmptyState,
  type ExtraArgName,
  type ExtraArgs,
  type ExtraArgsNeeded,
  type ExtraArgsWith,
  type GradientTransformation,
  type GradientTransformationExtraArgs,
  type RequiredExtraArgs,
  type WithExtraArgs,
  type ShapesState,
  type StateOf,
  type ScalarOrSchedule,
  type Schedule,
} from "./core/base.js";
export { applyUpdates, incrementalUpdate, periodicUpdate } from "./transforms/apply.js";
export { donate } from "./core/donate.js";
export { chain, identity } from "./combinators/chain.js";
export { namedChain } from "./combinators/chain.js";

// Transforms, by family.
export {
  scale,
  scaleByLearningRate,
  scaleBySchedule,
  scaleByTrustRatio,
  type ScaleByScheduleState,
  type TrustRatioOptions,
} from "./transforms/scaling.js";
export {
  scaleByAdadelta,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  type RmsOptions,
  type ScaleByAdadeltaState,
  type ScaleByRmsState,
  type ScaleByRssState,
  type ScaleByStddevState,
} from "./transforms/rms.js";
export { scaleByLion, type ScaleByLionState } from "./transforms/lion.js";
export {
  scaleByAdam,
  scaleByAdamax,
  scaleByAmsgrad,
  scaleByRAdam,
  type AdamOptions,
  type RAdamOptions,
  type ScaleByAdamState,
  type ScaleByAmsgradState,
} from "./transforms/adam.js";
export { ema, trace, type EmaState, type TraceState } from "./transforms/accumulation.js";
export { addDecayedWeights, type Mask, type MaskTree } from "./transforms/adding.js";
export { clip, clipByBlockRms, clipByGlobalNorm } from "./transforms/clipping.js";
export { zeroNans, type ZeroNansState } from "./transforms/nans.js";
export { scaleByBelief, type BeliefOptions } from "./transforms/belief.js";
export { scaleByYogi, type YogiOptions } from "./transforms/yogi.js";
export { scaleByAdan, type AdanOptions, type ScaleByAdanState } from "./transforms/adan.js";
export { scaleByNovograd, type NovogradOptions, type ScaleByNovogradState } from "./transforms/novograd.js";
export { scaleByRprop, scaleBySign, type RpropOptions, type ScaleByRpropState } from "./transforms/sign.js";
export { scaleByParamBlockNorm, scaleByParamBlockRms, type ParamBlockOptions } from "./transforms/param-block.js";
export {
  scaleByOptimisticGradient,
  type OptimisticGradientOptions,
  type ScaleByOptimisticGradientState,
} from "./transforms/optimistic.js";
export { keepParamsNonnegative } from "./transforms/constrain.js";
export { scaleByAdopt, type AdoptOptions } from "./transforms/adopt.js";
export { scaleByAdemamix, type AdemamixOptions, type ScaleByAdemamixState } from "./transforms/ademamix.js";
export { reduceOnPlateau, type ReduceOnPlateauOptions, type ReduceOnPlateauState } from "./transforms/plateau.js";
export {
  scaleByDistanceOverGradients,
  scaleByDog,
  scaleByDowg,
  type DistanceOverGradientsOptions,
  type DogInitStep,
  type ScaleByDogOptions,
  type ScaleByDistanceOverGradientsState,
  type ScaleByDogState,
  type ScaleByDowgOptions,
  type ScaleByDowgState,
} from "./transforms/distance.js";
export { scaleByCocob, type CocobOptions, type ScaleByCocobState } from "./transforms/cocob.js";
export {
  dadaptAdamw,
  prodigy,
  type DAdaptAdamWOptions,
  type DAdaptAdamWState,
  type ProdigyOptions,
  type ProdigyState,
} from "./transforms/dadapt.js";
export { setToZero } from "./transforms/zero.js";
export { applyEvery, type ApplyEveryState } from "./transforms/apply-every.js";
export { addNoise, type AddNoiseOptions, type AddNoiseState } from "./transforms/noise.js";
export {
  normalizeByUpdateNorm,
  scaleByPolyak,
  type NormalizeByUpdateNormOptions,
  type PolyakOptions,
} from "./transforms/norm-scaling.js";
export { adaptiveGradClip, type AdaptiveGradClipOptions } from "./transforms/adaptive-clipping.js";
export { scaleByFactoredRms, type FactoredRmsOptions, type FactoredState } from "./transforms/factored.js";
export { scaleBySm3, type ScaleBySm3State, type Sm3Options } from "./transforms/sm3.js";
export { centralize } from "./transforms/centralize.js";
export {
  MUON_NS_COEFFS,
  scaleByMuon,
  type NsCoeffs,
  type ScaleByMuonOptions,
  type ScaleByMuonState,
} from "./transforms/muon.js";
export { scaleByLbfgs, type LbfgsOptions, type ScaleByLbfgsState } from "./transforms/lbfgs.js";
export {
  scaleByBacktrackingLinesearch,
  scaleByZoomLinesearch,
  type BacktrackingLinesearchInfo,
  type BacktrackingLinesearchNeeds,
  type BacktrackingLinesearchOptions,
  type ScaleByBacktrackingLinesearchState,
  type ScaleByZoomLinesearchState,
  type ZoomLinesearchInfo,
  type ZoomLinesearchNeeds,
  type ZoomLinesearchOptions,
} from "./transforms/linesearch.js";

// Optimizers.
export {
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  amsgrad,
  lamb,
  lion,
  nadam,
  radam,
  ranger,
  rmsprop,
  sgd,
  type AdamWOptions,
  type LambOptions,
  type RangerOptions,
  type RmspropOptions,
} from "./optimizers/standard.js";
export {
  adabelief,
  adamaxw,
  ademamix,
  adan,
  adopt,
  nadamw,
  novograd,
  yogi,
  type AdabeliefOptions,
  type AdamaxWOptions,
  type AdanOptimizerOptions,
  type AdemamixOptimizerOptions,
  type NadamWOptions,
} from "./optimizers/adaptive.js";
export { rprop, signSgd, signum } from "./optimizers/sign.js";
export { fromage, lars, type LarsOptions } from "./optimizers/layerwise.js";
export { optimisticAdam, optimisticGradientDescent, type OptimisticAdamOptions } from "./optimizers/optimistic.js";
export {
  cocob,
  dog,
  dowg,
  type CocobOptimizerOptions,
  type DogOptions,
  type DowgOptions,
} from "./optimizers/parameter-free.js";
export {
  scheduleFree,
  scheduleFreeAdamw,
  scheduleFreeEvalParams,
  scheduleFreeSgd,
  type ScheduleFreeAdamwOptions,
  type ScheduleFreeOptions,
  type ScheduleFreeSgdOptions,
  type ScheduleFreeState,
} from "./optimizers/schedule-free.js";
export { mechanize, type MechanicState, type MechanizeOptions } from "./combinators/mechanic.js";
export { noisySgd, polyakSgd, type PolyakSgdOptions } from "./optimizers/sgd-variants.js";
export {
  adafactor,
  muon,
  sm3,
  type AdafactorOptions,
  type MuonOptimizerState,
  type MuonOptions,
} from "./optimizers/factored.js";
export { lbfgs, type DefaultLbfgsLinesearch, type LbfgsOptimizerOptions, type LbfgsState } from "./optimizers/lbfgs.js";
export {
  lookahead,
  slowParams,
  type InnerStatePolicy,
  type LookaheadOptions,
  type LookaheadState,
} from "./lookahead/lookahead.js";
export type { AdaptiveAlphaState } from "./lookahead/adaptive-alpha.js";

// Combinators.
export { masked, type MaskedState } from "./combinators/masked.js";
export { multiTransform, type MultiTransformState } from "./combinators/multi-transform.js";
export { injectHyperparams, type InjectHyperparamsState } from "./combinators/inject.js";
export { applyIfFinite, type ApplyIfFiniteState } from "./combinators/finite.js";
export { multiSteps, type MultiStepsState } from "./combinators/multi-steps.js";
export { freeze } from "./combinators/freeze.js";
export { stateless, statelessWithTreeMap } from "./combinators/stateless.js";
export {
  conditionallyMask,
  conditionallyTransform,
  type ConditionFn,
  type ConditionallyOptions,
  type ConditionallyState,
} from "./combinators/conditionally.js";
export { snapshot, type SnapshotState } from "./combinators/monitor.js";
export { monitor, type Measure, type MonitorState } from "./combinators/monitor.js";
export { sam, type SamOptions, type SamState } from "./combinators/sam.js";
export type { PerLeaf, PrefixTree } from "./core/partition.js";

// Schedules.
export {
  constantSchedule,
  cosineDecaySchedule,
  cosineOnecycleSchedule,
  exponentialDecay,
  joinSchedules,
  linearOnecycleSchedule,
  linearSchedule,
  piecewiseConstantSchedule,
  piecewiseInterpolateSchedule,
  polynomialSchedule,
  sgdrSchedule,
  warmupConstantSchedule,
  warmupCosineDecaySchedule,
  warmupExponentialDecaySchedule,
  type CosineDecayOptions,
  type CosineOnecycleOptions,
  type ExponentialDecayOptions,
  type InterpolateType,
  type LinearOnecycleOptions,
  type LinearScheduleOptions,
  type PolynomialScheduleOptions,
  type SgdrCycle,
  type WarmupConstantOptions,
  type WarmupCosineDecayOptions,
  type WarmupExponentialDecayOptions,
} from "./optimizers/schedules.js";

// Projections.
export {
  projectBox,
  projectHalfspace,
  projectHyperplane,
  projectL1Ball,
  projectL2Ball,
  projectLinfBall,
  projectNonNegative,
  projectSimplex,
} from "./core/projections.js";

// The compiled fast path.
export { compile, type CompiledOptimizer, type CompileOptions } from "./compile/compile.js";

// Checkpoints, the fp-ts face, and tree utilities.
export { deserializeParams, deserializeState, serializeParams, serializeState } from "./checkpoints/serialize.js";
export { initEither, monoidTransformation, safeFactory, updateEither } from "./either.js";
export * as tree from "./core/tree.js";
