/**
 * Options objects are strict: every factory that takes one reads it once, refuses anything but a
 * plain object (saying what to write instead), refuses unknown keys (naming the nearest valid
 * one), validates what its getters return, and takes `null` for "no options".
 */
import * as E from "fp-ts/lib/Either.js";
import ts from "typescript";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as gradtx from "../src/index.js";
import * as laws from "../src/laws/index.js";
import * as losses from "../src/losses/index.js";
import { GradTxError } from "../src/index.js";

const {
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  addDecayedWeights,
  amsgrad,
  compile,
  cosineDecaySchedule,
  ema,
  exponentialDecay,
  lamb,
  lbfgs,
  linearSchedule,
  lion,
  lookahead,
  nadam,
  polynomialSchedule,
  radam,
  ranger,
  reduceOnPlateau,
  rmsprop,
  safeFactory,
  scaleByAdadelta,
  scaleByAdam,
  scaleByAdamax,
  scaleByAmsgrad,
  scaleByBacktrackingLinesearch,
  scaleByLbfgs,
  scaleByLearningRate,
  scaleByLion,
  scaleByRAdam,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  scaleByTrustRatio,
  scaleByZoomLinesearch,
  sgd,
  trace,
  warmupCosineDecaySchedule,
} = gradtx;

type Call = (options: unknown) => unknown;
const any = (f: unknown) => f as (...args: unknown[]) => unknown;

interface Factory {
  /** The exported name. */
  readonly name: string;
  /** Builds with these options (in the options position, after any required arguments). */
  readonly call: Call;
  /** Options every call here passes (a schedule's required ones, a law checker's run count). */
  readonly base?: Readonly<Record<string, unknown>>;
  /** Whether some options are required, so that `{}` is refused. */
  readonly required?: boolean;
  /** A valid option and value. */
  readonly good: readonly [string, unknown];
  /** A valid option with a value out of its range. */
  readonly bad: readonly [string, unknown];
  /** A misspelt or foreign key, and the valid key it should be pointed to. */
  readonly unknown: readonly [string, string];
  /** What the error for a non-object says to write instead (optax's positional form). */
  readonly instead: string;
}

const lr = 0.1;
const p = { w: Float64Array.of(1, 2) };
const quick = { numRuns: 1 };

const factories: readonly Factory[] = [
  {
    name: "sgd",
    call: (o) => any(sgd)(lr, o),
    good: ["momentum", 0.9],
    bad: ["momentum", -0.5],
    unknown: ["momentun", "momentum"],
    instead: "optax's sgd(lr, momentum) is sgd(lr, { momentum: 0.9 })",
  },
  {
    name: "adam",
    call: (o) => any(adam)(lr, o),
    good: ["b1", 0.8],
    bad: ["b2", 1],
    unknown: ["beta1", "b1"],
    instead: "optax's adam(lr, b1, b2, eps) is adam(lr, { b1: 0.9, b2: 0.999, eps: 1e-8 })",
  },
  {
    name: "adamw",
    call: (o) => any(adamw)(lr, o),
    good: ["weightDecay", 0.01],
    bad: ["weightDecay", -1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's adamw(lr, b1, b2, eps, eps_root, weight_decay)",
  },
  {
    name: "nadam",
    call: (o) => any(nadam)(lr, o),
    good: ["eps", 1e-6],
    bad: ["eps", -1],
    unknown: ["epsilon", "eps"],
    instead: "optax's nadam(lr, b1, b2, eps)",
  },
  {
    name: "radam",
    call: (o) => any(radam)(lr, o),
    good: ["threshold", 4],
    bad: ["b1", 1.5],
    unknown: ["treshold", "threshold"],
    instead: "optax's radam(lr, b1, b2, eps, eps_root, threshold)",
  },
  {
    name: "adamax",
    call: (o) => any(adamax)(lr, o),
    good: ["b2", 0.99],
    bad: ["b2", -0.1],
    unknown: ["beta_2", "b2"],
    instead: "optax's adamax(lr, b1, b2, eps)",
  },
  {
    name: "amsgrad",
    call: (o) => any(amsgrad)(lr, o),
    good: ["epsRoot", 1e-8],
    bad: ["epsRoot", -1],
    unknown: ["eps_root", "epsRoot"],
    instead: "optax's amsgrad(lr, b1, b2, eps)",
  },
  {
    name: "rmsprop",
    call: (o) => any(rmsprop)(lr, o),
    good: ["momentum", 0.5],
    bad: ["momentum", -0.5],
    unknown: ["alpha", "decay"],
    instead: "optax's rmsprop(lr, decay, eps) is rmsprop(lr, { decay: 0.9, eps: 1e-8 })",
  },
  {
    name: "adagrad",
    call: (o) => any(adagrad)(lr, o),
    good: ["initialAccumulatorValue", 0],
    bad: ["initialAccumulatorValue", -1],
    unknown: ["initial_accumulator_value", "initialAccumulatorValue"],
    instead: "optax's adagrad(lr, initial_accumulator_value, eps)",
  },
  {
    name: "adadelta",
    call: (o) => any(adadelta)(lr, o),
    good: ["rho", 0.95],
    bad: ["rho", 2],
    unknown: ["Rho", "rho"],
    instead: "optax's adadelta(lr, rho, eps, weight_decay)",
  },
  {
    name: "lion",
    call: (o) => any(lion)(lr, o),
    good: ["b2", 0.98],
    bad: ["b1", -1],
    unknown: ["betas", "PyTorch's betas are b1 and b2 here"],
    instead: "optax's lion(lr, b1, b2, weight_decay)",
  },
  {
    name: "lamb",
    call: (o) => any(lamb)(lr, o),
    good: ["weightDecay", 0.01],
    bad: ["eps", -1],
    unknown: ["wd", "weightDecay"],
    instead: "optax's lamb(lr, b1, b2, eps, eps_root, weight_decay)",
  },
  {
    name: "ranger",
    call: (o) => any(ranger)(lr, o),
    good: ["syncPeriod", 4],
    bad: ["syncPeriod", 0],
    unknown: ["k", "syncPeriod"],
    instead: "write { b1, b2, eps, epsRoot, nesterov, threshold, syncPeriod, alpha }",
  },
  {
    name: "lookahead",
    call: (o) => any(lookahead)(sgd(lr), o),
    good: ["alpha", 0.8],
    bad: ["alpha", 2],
    unknown: ["k", "syncPeriod"],
    instead: "optax's lookahead(inner, sync_period, slow_step_size) is lookahead(inner, { syncPeriod: 5, alpha: 0.5 })",
  },
  {
    name: "reduceOnPlateau",
    call: (o) => any(reduceOnPlateau)(o),
    good: ["patience", 3],
    bad: ["factor", 1],
    unknown: ["accumulation_size", "accumulationSize"],
    instead: "optax's reduce_on_plateau(factor, patience) is reduceOnPlateau({ factor: 0.1, patience: 10 })",
  },
  {
    name: "scaleByLbfgs",
    call: (o) => any(scaleByLbfgs)(o),
    good: ["memorySize", 3],
    bad: ["scaleInitPrecond", 1],
    unknown: ["memory_size", "memorySize"],
    instead: "optax's scale_by_lbfgs(memory_size=10) is scaleByLbfgs({ memorySize: 10 })",
  },
  {
    name: "scaleByZoomLinesearch",
    call: (o) => any(scaleByZoomLinesearch)(o),
    base: { maxLinesearchSteps: 5 },
    required: true,
    good: ["curvRtol", 0.5],
    bad: ["tol", -1],
    unknown: ["max_learning_rate", "maxLearningRate"],
    instead:
      "optax's scale_by_zoom_linesearch(max_linesearch_steps=15) is scaleByZoomLinesearch({ maxLinesearchSteps: 15 })",
  },
  {
    name: "scaleByBacktrackingLinesearch",
    call: (o) => any(scaleByBacktrackingLinesearch)(o),
    base: { maxBacktrackingSteps: 5 },
    required: true,
    good: ["decreaseFactor", 0.5],
    bad: ["decreaseFactor", 1],
    unknown: ["store_grad", "storeGrad"],
    instead:
      "optax's scale_by_backtracking_linesearch(max_backtracking_steps=15) is scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15 })",
  },
  {
    name: "lbfgs",
    call: (o) => any(lbfgs)(o),
    good: ["memorySize", 5],
    bad: ["memorySize", 0],
    unknown: ["memory_size", "memorySize"],
    instead: "optax's lbfgs(learning_rate, memory_size) is lbfgs({ learningRate, memorySize })",
  },
  {
    name: "scaleByAdam",
    call: (o) => any(scaleByAdam)(o),
    good: ["nesterov", true],
    bad: ["nesterov", "yes"],
    unknown: ["nesterv", "nesterov"],
    instead: "optax's scale_by_adam(b1, b2, eps) is scaleByAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  },
  {
    name: "scaleByRms",
    call: (o) => any(scaleByRms)(o),
    good: ["biasCorrection", true],
    bad: ["decay", 1],
    unknown: ["eps_in_sqrt", "epsInSqrt"],
    instead: "optax's scale_by_rms(decay, eps)",
  },
  {
    name: "scaleByStddev",
    call: (o) => any(scaleByStddev)(o),
    good: ["initialScale", 0.5],
    bad: ["initialScale", -0.5],
    unknown: ["initial_scale", "initialScale"],
    instead: "optax's scale_by_stddev(decay, eps)",
  },
  {
    name: "scaleByRss",
    call: (o) => any(scaleByRss)(o),
    good: ["eps", 0],
    bad: ["eps", NaN],
    unknown: ["initialAccumulator", "initialAccumulatorValue"],
    instead: "optax's scale_by_rss(initial_accumulator_value, eps)",
  },
  {
    name: "scaleByRAdam",
    call: (o) => any(scaleByRAdam)(o),
    good: ["threshold", 6],
    bad: ["threshold", Infinity],
    unknown: ["thresh", "threshold"],
    instead: "optax's scale_by_radam(b1, b2, eps)",
  },
  {
    name: "scaleByLion",
    call: (o) => any(scaleByLion)(o),
    good: ["b1", 0.5],
    bad: ["b2", 1.5],
    unknown: ["beta1", "b1"],
    instead: "optax's scale_by_lion(b1, b2)",
  },
  {
    name: "scaleByAdamax",
    call: (o) => any(scaleByAdamax)(o),
    good: ["eps", 1e-6],
    bad: ["eps", -1e-6],
    unknown: ["epsilon", "eps"],
    instead: "optax's scale_by_adamax(b1, b2, eps)",
  },
  {
    name: "scaleByAmsgrad",
    call: (o) => any(scaleByAmsgrad)(o),
    good: ["b1", 0],
    bad: ["b1", 1],
    unknown: ["b3", "b1"],
    instead: "optax's scale_by_amsgrad(b1, b2, eps)",
  },
  {
    name: "scaleByAdadelta",
    call: (o) => any(scaleByAdadelta)(o),
    good: ["rho", 0.5],
    bad: ["rho", -0.5],
    unknown: ["rhoo", "rho"],
    instead: "optax's scale_by_adadelta(rho, eps)",
  },
  {
    name: "scaleByTrustRatio",
    call: (o) => any(scaleByTrustRatio)(o),
    good: ["minNorm", 1e-3],
    bad: ["trustCoefficient", -1],
    unknown: ["trust_coefficient", "trustCoefficient"],
    instead: "optax's scale_by_trust_ratio(min_norm, trust_coefficient, eps)",
  },
  {
    name: "scaleByLearningRate",
    call: (o) => any(scaleByLearningRate)(lr, o),
    good: ["flipSign", false],
    bad: ["flipSign", 0],
    unknown: ["flip_sign", "flipSign"],
    instead: "optax's scale_by_learning_rate(lr, flip_sign) is scaleByLearningRate(lr, { flipSign: false })",
  },
  {
    name: "trace",
    call: (o) => any(trace)(0.9, o),
    good: ["nesterov", true],
    bad: ["nesterov", 1],
    unknown: ["nesterow", "nesterov"],
    instead: "optax's trace(decay, nesterov) is trace(decay, { nesterov: true })",
  },
  {
    name: "ema",
    call: (o) => any(ema)(0.9, o),
    good: ["debias", false],
    bad: ["debias", "no"],
    unknown: ["debiased", "debias"],
    instead: "optax's ema(decay, debias) is ema(decay, { debias: false })",
  },
  {
    name: "addDecayedWeights",
    call: (o) => any(addDecayedWeights)(0.1, o),
    good: ["mask", true],
    bad: ["mask", 42],
    unknown: ["masks", "mask"],
    instead: "optax's add_decayed_weights(weight_decay, mask) is addDecayedWeights(weightDecay, { mask })",
  },
  // The second wave of optax's optimizers and transforms (issue 11).
  {
    name: "adabelief",
    call: (o) => any(gradtx.adabelief)(lr, o),
    good: ["weightDecay", 0.01],
    bad: ["eps", -1],
    unknown: ["mask", "weightDecayMask"],
    instead: "optax's adabelief(lr, b1, b2, eps, eps_root)",
  },
  {
    name: "yogi",
    call: (o) => any(gradtx.yogi)(lr, o),
    good: ["eps", 1e-4],
    bad: ["b1", 1],
    unknown: ["beta2", "b2"],
    instead: "optax's yogi(lr, b1, b2, eps)",
  },
  {
    name: "adan",
    call: (o) => any(gradtx.adan)(lr, o),
    good: ["b3", 0.9],
    bad: ["b3", 1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's adan(lr, b1, b2, b3, eps, eps_root, weight_decay)",
  },
  {
    name: "novograd",
    call: (o) => any(gradtx.novograd)(lr, o),
    good: ["weightDecay", 0.01],
    bad: ["b2", -0.25],
    unknown: ["eps_root", "epsRoot"],
    instead: "optax's novograd(lr, b1, b2, eps, eps_root, weight_decay)",
  },
  {
    name: "rprop",
    call: (o) => any(gradtx.rprop)(lr, o),
    good: ["etaPlus", 1.5],
    bad: ["etaMinus", 0],
    unknown: ["eta_minus", "etaMinus"],
    instead: "optax's rprop(lr, eta_minus, eta_plus, min_step_size, max_step_size)",
  },
  {
    name: "signum",
    call: (o) => any(gradtx.signum)(lr, o),
    good: ["beta", 0.95],
    bad: ["beta", 1],
    unknown: ["betta", "beta"],
    instead: "optax's signum(lr, beta)",
  },
  {
    name: "lars",
    call: (o) => any(gradtx.lars)(lr, o),
    good: ["trustCoefficient", 0.01],
    bad: ["momentum", -0.9],
    unknown: ["trust_ratio_mask", "trustRatioMask"],
    instead: "optax's lars(lr, weight_decay, weight_decay_mask, trust_coefficient)",
  },
  {
    name: "fromage",
    call: (o) => any(gradtx.fromage)(lr, o),
    good: ["minNorm", 1e-4],
    bad: ["minNorm", -1],
    unknown: ["min_norm", "minNorm"],
    instead: "optax's fromage(lr, min_norm)",
  },
  {
    name: "adamaxw",
    call: (o) => any(gradtx.adamaxw)(lr, o),
    good: ["weightDecay", 0.01],
    bad: ["weightDecay", -1],
    unknown: ["wd", "weightDecay"],
    instead: "optax's adamaxw(lr, b1, b2, eps, weight_decay)",
  },
  {
    name: "nadamw",
    call: (o) => any(gradtx.nadamw)(lr, o),
    good: ["epsRoot", 1e-8],
    bad: ["b2", 1],
    unknown: ["nesterov", "nadamw is always Nesterov's; adamw(lr) is the other"],
    instead: "optax's nadamw(lr, b1, b2, eps, eps_root, weight_decay)",
  },
  {
    name: "optimisticGradientDescent",
    call: (o) => any(gradtx.optimisticGradientDescent)(lr, o),
    good: ["beta", 0.5],
    bad: ["alpha", NaN],
    unknown: ["alfa", "alpha"],
    instead: "optax's optimisticGradientDescent(lr, alpha, beta)",
  },
  {
    name: "optimisticAdam",
    call: (o) => any(gradtx.optimisticAdam)(lr, o),
    good: ["nesterov", false],
    bad: ["b1", 1],
    unknown: ["epsilon", "eps"],
    instead: "optax's optimisticAdam(lr, b1, b2, eps)",
  },
  {
    name: "adopt",
    call: (o) => any(gradtx.adopt)(lr, o),
    good: ["useClipping", false],
    bad: ["clipValueFn", 4],
    unknown: ["use_clipping", "useClipping"],
    instead: "optax's adopt(lr, b1, b2, eps)",
  },
  {
    name: "ademamix",
    call: (o) => any(gradtx.ademamix)(lr, o),
    good: ["alpha", (count: number) => Math.min(5, count / 10)],
    bad: ["b3", 1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's ademamix(lr, b1, b2, b3, alpha)",
  },
  {
    name: "scaleByBelief",
    call: (o) => any(gradtx.scaleByBelief)(o),
    good: ["nesterov", true],
    bad: ["epsRoot", -1],
    unknown: ["eps_root", "epsRoot"],
    instead: "optax's scale_by_belief(b1, b2, eps, eps_root)",
  },
  {
    name: "scaleByYogi",
    call: (o) => any(gradtx.scaleByYogi)(o),
    good: ["initialAccumulatorValue", 1e-3],
    bad: ["initialAccumulatorValue", 0],
    unknown: ["initial_accumulator_value", "initialAccumulatorValue"],
    instead: "optax's scale_by_yogi(b1, b2, eps)",
  },
  {
    name: "scaleByAdan",
    call: (o) => any(gradtx.scaleByAdan)(o),
    good: ["b2", 0.9],
    bad: ["b1", -0.1],
    unknown: ["beta3", "b3"],
    instead: "optax's scale_by_adan(b1, b2, b3, eps)",
  },
  {
    name: "scaleByNovograd",
    call: (o) => any(gradtx.scaleByNovograd)(o),
    good: ["b1", 0.95],
    bad: ["weightDecay", -1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's scale_by_novograd(b1, b2, eps, eps_root, weight_decay)",
  },
  {
    name: "scaleByRprop",
    call: (o) => any(gradtx.scaleByRprop)(lr, o),
    good: ["maxStepSize", 1],
    bad: ["minStepSize", -1],
    unknown: ["max_step_size", "maxStepSize"],
    instead: "optax's scale_by_rprop(learning_rate, eta_minus, eta_plus)",
  },
  {
    name: "scaleByParamBlockNorm",
    call: (o) => any(gradtx.scaleByParamBlockNorm)(o),
    good: ["minScale", 1e-2],
    bad: ["minScale", -1],
    unknown: ["min_scale", "minScale"],
    instead: "optax's scale_by_param_block_norm(min_scale)",
  },
  {
    name: "scaleByParamBlockRms",
    call: (o) => any(gradtx.scaleByParamBlockRms)(o),
    good: ["minScale", 0],
    bad: ["minScale", NaN],
    unknown: ["minscale", "minScale"],
    instead: "optax's scale_by_param_block_rms(min_scale)",
  },
  {
    name: "scaleByOptimisticGradient",
    call: (o) => any(gradtx.scaleByOptimisticGradient)(o),
    good: ["alpha", 0.5],
    bad: ["beta", Infinity],
    unknown: ["betta", "beta"],
    instead: "optax's scale_by_optimistic_gradient(alpha, beta)",
  },
  {
    name: "scaleByAdopt",
    call: (o) => any(gradtx.scaleByAdopt)(o),
    good: ["nesterov", true],
    bad: ["useClipping", "yes"],
    unknown: ["clip_value_fn", "clipValueFn"],
    instead: "optax's scale_by_adopt(b1, b2, eps)",
  },
  {
    name: "scaleByAdemamix",
    call: (o) => any(gradtx.scaleByAdemamix)(o),
    good: ["b3", 0.999],
    bad: ["alpha", NaN],
    unknown: ["eps_root", "epsRoot"],
    instead: "optax's scale_by_ademamix(b1, b2, b3, alpha)",
  },
  {
    name: "polynomialSchedule",
    call: (o) => any(polynomialSchedule)(o),
    required: true,
    base: { initValue: 1, endValue: 0, power: 2, transitionSteps: 10 },
    good: ["transitionBegin", 3],
    bad: ["power", 0],
    unknown: ["transition_steps", "transitionSteps"],
    instead: "optax's polynomial_schedule(init_value, end_value, power, transition_steps)",
  },
  {
    name: "linearSchedule",
    call: (o) => any(linearSchedule)(o),
    required: true,
    base: { initValue: 1, endValue: 0, transitionSteps: 10 },
    good: ["transitionBegin", 3],
    bad: ["transitionSteps", 0.5],
    unknown: ["power", "a linear schedule has power 1: polynomialSchedule takes one"],
    instead: "optax's linear_schedule(init_value, end_value, transition_steps)",
  },
  {
    name: "exponentialDecay",
    call: (o) => any(exponentialDecay)(o),
    required: true,
    base: { initValue: 1, transitionSteps: 10, decayRate: 0.5 },
    good: ["staircase", true],
    bad: ["staircase", "true"],
    unknown: ["end_value", "endValue"],
    instead: "optax's exponential_decay(init_value, transition_steps, decay_rate)",
  },
  {
    name: "cosineDecaySchedule",
    call: (o) => any(cosineDecaySchedule)(o),
    required: true,
    base: { initValue: 1, decaySteps: 10 },
    good: ["alpha", 0.1],
    bad: ["alpha", 1.5],
    unknown: ["exponant", "exponent"],
    instead: "optax's cosine_decay_schedule(init_value, decay_steps, alpha)",
  },
  {
    name: "warmupCosineDecaySchedule",
    call: (o) => any(warmupCosineDecaySchedule)(o),
    required: true,
    base: { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 },
    good: ["endValue", 0.1],
    bad: ["exponent", -1],
    unknown: ["warmup_steps", "warmupSteps"],
    instead: "optax's warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps)",
  },
  {
    name: "warmupConstantSchedule",
    call: (o) => any(gradtx.warmupConstantSchedule)(o),
    required: true,
    base: { initValue: 0, peakValue: 1, warmupSteps: 5 },
    good: ["warmupSteps", 3],
    bad: ["warmupSteps", 0],
    unknown: ["warmup_steps", "warmupSteps"],
    instead: "optax's warmup_constant_schedule(init_value, peak_value, warmup_steps)",
  },
  {
    name: "warmupExponentialDecaySchedule",
    call: (o) => any(gradtx.warmupExponentialDecaySchedule)(o),
    required: true,
    base: { initValue: 0, peakValue: 1, warmupSteps: 5, transitionSteps: 10, decayRate: 0.5 },
    good: ["staircase", true],
    bad: ["decayRate", -1],
    unknown: ["decay_rate", "decayRate"],
    instead:
      "optax's warmup_exponential_decay_schedule(init_value, peak_value, warmup_steps, transition_steps, decay_rate)",
  },
  {
    name: "linearOnecycleSchedule",
    call: (o) => any(gradtx.linearOnecycleSchedule)(o),
    required: true,
    base: { transitionSteps: 100, peakValue: 1 },
    good: ["pctFinal", 0.9],
    bad: ["pctStart", 1.5],
    unknown: ["pct_final", "pctFinal"],
    instead: "optax's linear_onecycle_schedule(transition_steps, peak_value)",
  },
  {
    name: "cosineOnecycleSchedule",
    call: (o) => any(gradtx.cosineOnecycleSchedule)(o),
    required: true,
    base: { transitionSteps: 100, peakValue: 1 },
    good: ["divFactor", 10],
    bad: ["finalDivFactor", 0],
    unknown: ["div_factor", "divFactor"],
    instead: "optax's cosine_onecycle_schedule(transition_steps, peak_value)",
  },
  {
    name: "compile",
    call: (o) => (any(compile)(sgd(lr), p, o) as gradtx.CompiledOptimizer).dispose(),
    good: ["threads", 1],
    bad: ["threads", 0],
    unknown: ["thread", "threads"],
    instead: "write { state, threads, worker }",
  },
  ...(
    [
      "checkPurity",
      "checkDeterminism",
      "checkStructure",
      "checkFinite",
      "checkChainIdentity",
      "checkTransformationLaws",
    ] as const
  ).map((name): Factory => ({
    name,
    call: (o) => any(laws[name])(sgd(lr), o),
    base: quick,
    good: ["seed", 7],
    bad: ["numRuns", 0],
    unknown: ["numruns", "numRuns"],
    instead: "write { numRuns, seed, problems",
  })),
  {
    name: "checkChainAssociativity",
    call: (o) => any(laws.checkChainAssociativity)(sgd(lr), sgd(lr), sgd(lr), o),
    base: quick,
    good: ["seed", 7],
    bad: ["seed", 0.5],
    unknown: ["runs", "numRuns"],
    instead: "write { numRuns, seed, problems }",
  },
  ...(
    [
      "checkLookaheadAlphaOne",
      "checkLookaheadAlphaZero",
      "checkLookaheadSyncPeriodOne",
      "checkLookaheadSync",
      "checkLookaheadLaws",
    ] as const
  ).map((name): Factory => ({
    name,
    call: (o) => any(laws[name])(o),
    base: quick,
    good: ["inners", [(rate: number) => sgd(rate)]],
    bad: ["inners", []],
    unknown: ["inner", "inners"],
    instead: "write { numRuns, seed, problems, lookahead, slowParams, inners, extra }",
  })),
  {
    name: "tree.norm",
    call: (o) => any(gradtx.tree.norm)(p, o),
    good: ["ord", 1],
    bad: ["ord", 3],
    unknown: ["order", "ord"],
    instead: "optax's tree_norm(tree, ord, squared) is tree.norm(tree, { ord, squared })",
  },
  {
    name: "huberLoss",
    call: (o) => any(losses.huberLoss)(Float64Array.of(2, -0.5), null, o),
    good: ["delta", 0.5],
    bad: ["delta", 0],
    unknown: ["epsilon", "delta"],
    instead: "optax's huber_loss(predictions, targets, delta) is huberLoss(predictions, targets, { delta })",
  },
  {
    name: "arbitraryTree",
    call: (o) => any(laws.arbitraryTree)(o),
    good: ["maxDepth", 1],
    bad: ["maxDepth", -1],
    unknown: ["depth", "maxDepth"],
    instead: "write { maxDepth, maxChildren, maxLeafLength, dtypes, ndarrays, maxMagnitude }",
  },
  {
    name: "arbitraryProblem",
    call: (o) => any(laws.arbitraryProblem)(o),
    good: ["maxSteps", 3],
    bad: ["minSteps", 0],
    unknown: ["max_steps", "maxSteps"],
    instead: "write { maxDepth, maxChildren, maxLeafLength, dtypes, ndarrays, maxMagnitude, minSteps, maxSteps }",
  },
  // optax.contrib's parameter-free and schedule-free optimizers.
  {
    name: "scaleByDog",
    call: (o) => any(gradtx.scaleByDog)(o),
    base: { initStep: ["heuristic", 1e-6] },
    required: true,
    good: ["eps", 1e-6],
    bad: ["eps", -1],
    unknown: ["init_step", "initStep"],
    instead: "optax's scale_by_dog(init_step, eps)",
  },
  {
    name: "scaleByDowg",
    call: (o) => any(gradtx.scaleByDowg)(o),
    good: ["initEstimSqDist", 0.01],
    bad: ["eps", 0],
    unknown: ["init_estim_sq_dist", "initEstimSqDist"],
    instead: "optax's scale_by_dowg(init_estim_sq_dist, eps)",
  },
  {
    name: "scaleByDistanceOverGradients",
    call: (o) => any(gradtx.scaleByDistanceOverGradients)(o),
    good: ["repsRel", 1e-4],
    bad: ["repsRel", 0],
    unknown: ["reps_rel", "repsRel"],
    instead: "optax's scale_by_distance_over_gradients(reps_rel, eps, param_dtype, global_scale)",
  },
  {
    name: "scaleByCocob",
    call: (o) => any(gradtx.scaleByCocob)(o),
    good: ["alpha", 10],
    bad: ["alpha", 0],
    unknown: ["alhpa", "alpha"],
    instead: "optax's scale_by_cocob(alpha, eps)",
  },
  {
    name: "dog",
    call: (o) => any(gradtx.dog)(1, o),
    good: ["initStep", ["distance", 0.1]],
    bad: ["initStep", ["distance", -1]],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's dog(learning_rate, init_step, eps, weight_decay, mask)",
  },
  {
    name: "dowg",
    call: (o) => any(gradtx.dowg)(1, o),
    good: ["weightDecay", 0.01],
    bad: ["weightDecay", -1],
    unknown: ["init_estim_sq_dist", "initEstimSqDist"],
    instead: "optax's dowg(learning_rate, init_estim_sq_dist, eps, weight_decay, mask)",
  },
  {
    name: "cocob",
    call: (o) => any(gradtx.cocob)(1, o),
    good: ["weightDecay", 0.01],
    bad: ["eps", -1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's cocob(learning_rate, alpha, eps, weight_decay, mask)",
  },
  {
    name: "prodigy",
    call: (o) => any(gradtx.prodigy)(1, o),
    good: ["safeguardWarmup", true],
    bad: ["betas", [0.9, 1]],
    unknown: ["estim_lr_coef", "estimLrCoef"],
    instead: "optax's prodigy(learning_rate, betas, beta3, eps, estim_lr0, estim_lr_coef, weight_decay)",
  },
  {
    name: "dadaptAdamw",
    call: (o) => any(gradtx.dadaptAdamw)(1, o),
    good: ["estimLr0", 1e-3],
    bad: ["estimLr0", 0],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's dadapt_adamw(learning_rate, betas, eps, estim_lr0, weight_decay)",
  },
  {
    name: "scheduleFree",
    call: (o) => any(gradtx.scheduleFree)(sgd(1), o),
    base: { learningRate: 1 },
    required: true,
    good: ["b1", 0.95],
    bad: ["b1", 0],
    unknown: ["weight_lr_power", "weightLrPower"],
    instead: "optax's schedule_free(base_optimizer, learning_rate, b1, weight_lr_power)",
  },
  {
    name: "scheduleFreeSgd",
    call: (o) => any(gradtx.scheduleFreeSgd)(1, o),
    good: ["warmupSteps", 10],
    bad: ["weightLrPower", -1],
    unknown: ["warmup_steps", "warmupSteps"],
    instead: "optax's schedule_free_sgd(learning_rate, warmup_steps, b1, weight_decay, weight_lr_power)",
  },
  {
    name: "scheduleFreeAdamw",
    call: (o) => any(gradtx.scheduleFreeAdamw)(0.0025, o),
    good: ["b2", 0.99],
    bad: ["b2", 1],
    unknown: ["weight_decay", "weightDecay"],
    instead: "optax's schedule_free_adamw(learning_rate, warmup_steps, b1, b2, eps, weight_decay)",
  },
  {
    name: "mechanize",
    call: (o) => any(gradtx.mechanize)(sgd(1), o),
    good: ["numBetas", 3],
    bad: ["numBetas", 0],
    unknown: ["s_init", "sInit"],
    instead: "optax's mechanize(base_optimizer, weight_decay, eps, s_init, num_betas)",
  },
  {
    name: "conditionallyTransform",
    call: (o) => any(gradtx.conditionallyTransform)(sgd(lr), () => true, o),
    good: ["forwardExtraArgs", true],
    bad: ["forwardExtraArgs", 1],
    unknown: ["forward_extra_args", "forwardExtraArgs"],
    instead:
      "optax's conditionally_transform(inner, should_transform_fn, forward_extra_args) is conditionallyTransform(inner, shouldTransform, { forwardExtraArgs: true })",
  },
  {
    name: "conditionallyMask",
    call: (o) => any(gradtx.conditionallyMask)(sgd(lr), () => true, o),
    good: ["forwardExtraArgs", true],
    bad: ["forwardExtraArgs", "yes"],
    unknown: ["forwardExtra", "forwardExtraArgs"],
    instead:
      "optax's conditionally_mask(inner, should_transform_fn, forward_extra_args) is conditionallyMask(inner, shouldTransform, { forwardExtraArgs: true })",
  },
  {
    name: "addNoise",
    call: (o) => any(gradtx.addNoise)(o),
    base: { eta: 0.01, gamma: 0.55 },
    required: true,
    good: ["seed", 3],
    bad: ["gamma", NaN],
    unknown: ["gama", "gamma"],
    instead: "optax's add_noise(eta, gamma, key) is addNoise({ eta: 0.01, gamma: 0.55, seed: 0 })",
  },
  {
    name: "noisySgd",
    call: (o) => any(gradtx.noisySgd)(lr, o),
    good: ["seed", 3],
    bad: ["eta", -1],
    unknown: ["etta", "eta"],
    instead: "optax's noisySgd(lr, eta, gamma, key) is noisySgd(lr, { eta: 0.01, gamma: 0.55, seed: 0 })",
  },
  {
    name: "scaleByPolyak",
    call: (o) => any(gradtx.scaleByPolyak)(o),
    good: ["fMin", -1],
    bad: ["eps", -1],
    unknown: ["f_min", "fMin"],
    instead: "optax's scale_by_polyak(f_min, max_learning_rate, eps, variant)",
  },
  {
    name: "polyakSgd",
    call: (o) => any(gradtx.polyakSgd)(o),
    good: ["scaling", 0.5],
    bad: ["maxLearningRate", -1],
    unknown: ["max_learning_rate", "maxLearningRate"],
    instead: "optax's polyak_sgd(max_learning_rate, scaling, f_min, eps, variant)",
  },
  {
    name: "normalizeByUpdateNorm",
    call: (o) => any(gradtx.normalizeByUpdateNorm)(o),
    good: ["scaleFactor", -1],
    bad: ["eps", -1],
    unknown: ["scale_factor", "scaleFactor"],
    instead: "optax's normalize_by_update_norm(scale_factor, eps)",
  },
  {
    name: "adaptiveGradClip",
    call: (o) => any(gradtx.adaptiveGradClip)(1, o),
    good: ["eps", 0.01],
    bad: ["eps", -1],
    unknown: ["axes", "axis"],
    instead: "optax's adaptive_grad_clip(clipping, eps, axis)",
  },
  {
    name: "sam",
    call: (o) => any(gradtx.sam)(sgd(1), sgd(1), o),
    good: ["syncPeriod", 3],
    bad: ["syncPeriod", 0],
    unknown: ["sync_period", "syncPeriod"],
    instead: "optax's sam(optimizer, adv_optimizer, sync_period) is sam(optimizer, advOptimizer, { syncPeriod: 2 })",
  },
  // The transformations that read a leaf's shape.
  {
    name: "scaleByFactoredRms",
    call: (o) => any(gradtx.scaleByFactoredRms)(o),
    good: ["decayRate", 0.5],
    bad: ["decayRate", 0],
    unknown: ["min_dim_size_to_factor", "minDimSizeToFactor"],
    instead: "optax's scale_by_factored_rms(factored, decay_rate, step_offset, min_dim_size_to_factor, epsilon)",
  },
  {
    name: "adafactor",
    call: (o) => any(gradtx.adafactor)(lr, o),
    good: ["momentum", 0.9],
    bad: ["clippingThreshold", 0],
    unknown: ["decay_offset", "decayOffset"],
    instead: "optax's adafactor(lr, min_dim_size_to_factor, decay_rate",
  },
  {
    name: "scaleBySm3",
    call: (o) => any(gradtx.scaleBySm3)(o),
    good: ["b1", 0.5],
    bad: ["b2", 1.5],
    unknown: ["epsilon", "eps"],
    instead: "optax's scale_by_sm3(b1, b2, eps)",
  },
  {
    name: "sm3",
    call: (o) => any(gradtx.sm3)(lr, o),
    good: ["momentum", 0.5],
    bad: ["momentum", 1],
    unknown: ["b1", "momentum"],
    instead: "optax's sm3(lr, momentum)",
  },
  {
    name: "scaleByMuon",
    call: (o) => any(gradtx.scaleByMuon)(o),
    good: ["nsSteps", 3],
    bad: ["nsSteps", 0],
    unknown: ["ns_steps", "nsSteps"],
    instead: "optax's scale_by_muon(ns_coeffs, ns_steps, beta, eps)",
  },
  {
    name: "muon",
    call: (o) => any(gradtx.muon)(lr, o),
    good: ["beta", 0.9],
    bad: ["beta", 1],
    unknown: ["adam_b1", "adamB1"],
    instead: "optax's muon(lr, ns_coeffs, ns_steps, beta, eps, weight_decay)",
  },
];

/** What a call did: "ok", or the GradTxError's code and message. */
function outcome(thunk: () => unknown): string {
  try {
    thunk();
    return "ok";
  } catch (e) {
    if (e instanceof GradTxError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/** An options object whose `key` is a getter returning the values in turn, counting its calls. */
function withGetter(base: Readonly<Record<string, unknown>>, key: string, ...values: unknown[]) {
  const calls = { count: 0 };
  const options = { ...base };
  Object.defineProperty(options, key, {
    enumerable: true,
    get: () => values[Math.min(calls.count++, values.length - 1)],
  });
  return { options, calls };
}

describe.each(factories)("$name's options", (f) => {
  const base = f.base ?? {};
  const expectInvalid = (thunk: () => unknown, ...fragments: string[]) => {
    const got = outcome(thunk);
    expect(got.startsWith(`INVALID_HYPERPARAMETER: ${f.name}: `), got).toBe(true);
    for (const fragment of fragments) expect(got).toContain(fragment);
  };

  it.each([
    ["a number", 0.9, "the number 0.9"],
    ["a string", "b1", 'the string "b1"'],
    ["an array", [0.9, 0.999], "an array of length 2"],
    ["true", true, "the boolean true"],
    ["a function", () => 0.9, "a function"],
    ["a Map", new Map([["b1", 0.9]]), "a Map"],
  ])("refuses %s, saying what to write instead", (_, junk, described) => {
    expectInvalid(() => f.call(junk), "options must be an object; ", f.instead, `(got ${described})`);
  });

  it("refuses an unknown key, naming the valid key meant", () => {
    const [key, meant] = f.unknown;
    const suggestion = /^[A-Za-z][A-Za-z0-9]*$/.test(meant) ? `(did you mean "${meant}"?)` : `(${meant})`;
    expectInvalid(() => f.call({ ...base, [key]: 1 }), `unknown option "${key}" ${suggestion}; its options are `);
  });

  it("validates the value a getter returns", () => {
    const [key, value] = f.bad;
    expectInvalid(() => f.call(withGetter(base, key, value).options), key);
  });

  it("reads a getter once, and uses the value it read", () => {
    const [key, value] = f.good;
    // A second read would see the bad value and throw, or build with it.
    const { options, calls } = withGetter(base, key, value, f.bad[1]);
    expect(outcome(() => f.call(options))).toBe("ok");
    expect(calls.count).toBe(1);
  });

  it("takes null and undefined as no options, exactly as {}", () => {
    // A law checker with no options runs its 100 default cases: once is enough for null.
    if (f.name.startsWith("check")) {
      expect(outcome(() => f.call(null))).toBe("ok");
      return;
    }
    const empty = outcome(() => f.call({}));
    expect(outcome(() => f.call(null))).toBe(empty);
    expect(outcome(() => f.call(undefined))).toBe(empty);
    if (f.required !== true) expect(empty).toBe("ok");
    else expect(empty).toMatch(/^INVALID_HYPERPARAMETER/);
  });
});

describe("the table covers every exported function that takes an options object", () => {
  /**
   * The functions an entry point exports (following its re-exports, parsed without type
   * checking) that have a parameter that is an options object.
   */
  function withOptions(entry: string): string[] {
    const names: string[] = [];
    const visit = (path: string, only: ReadonlyMap<string, string> | null, prefix: string): void => {
      const text = readFileSync(path, "utf8");
      const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
      for (const statement of file.statements) {
        if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined) {
          const target = join(
            dirname(path),
            (statement.moduleSpecifier as ts.StringLiteral).text.replace(/\.js$/, ".ts"),
          );
          const clause = statement.exportClause;
          if (clause === undefined) visit(target, null, prefix);
          else if (ts.isNamespaceExport(clause)) visit(target, null, `${prefix}${clause.name.text}.`);
          else if (!statement.isTypeOnly) {
            const picked = new Map<string, string>();
            for (const spec of clause.elements)
              if (!spec.isTypeOnly) picked.set((spec.propertyName ?? spec.name).text, spec.name.text);
            visit(target, picked, prefix);
          }
        }
        // An overload signature (no body) is the same function as its implementation.
        if (!ts.isFunctionDeclaration(statement) || statement.name === undefined || statement.body === undefined)
          continue;
        const exported = statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
        const name = only === null ? statement.name.text : only.get(statement.name.text);
        if (!exported || name === undefined) continue;
        const takesOptions = statement.parameters.some(
          (param) =>
            /^(options|opts|constraints|config)$/i.test(param.name.getText()) ||
            /(Options|Constraints)\b/.test(param.type?.getText() ?? ""),
        );
        if (takesOptions) names.push(`${prefix}${name}`);
      }
    };
    visit(fileURLToPath(new URL(`../src/${entry}`, import.meta.url)), null, "");
    return names.sort();
  }

  it("in gradtx, gradtx/laws and gradtx/losses", () => {
    const exported = [
      ...withOptions("index.ts"),
      ...withOptions("laws/index.ts"),
      ...withOptions("losses/index.ts"),
    ].sort();
    expect(exported.length).toBeGreaterThan(40);
    expect(factories.map((f) => f.name).sort()).toEqual(exported);
  });
});

describe("options in practice", () => {
  it("optax's positional forms throw instead of running without what they ask for", () => {
    expect(() => any(sgd)(0.1, 0.9)).toThrowError(
      /^sgd: options must be an object; optax's sgd\(lr, momentum\) is sgd\(lr, \{ momentum: 0\.9 \}\)/,
    );
    expect(() => any(lookahead)(adam(1e-3), 10, 0.8)).toThrowError(/^lookahead: options must be an object/);
    expect(() => any(adam)(1e-3, 0.5)).toThrowError(/^adam: options must be an object/);
  });

  it('names the key meant: adam\'s "beta1" is "b1", lookahead\'s "k" is "syncPeriod"', () => {
    expect(() => any(adam)(0.1, { beta1: 0.9 })).toThrowError(/^adam: unknown option "beta1" \(did you mean "b1"\?\)/);
    expect(() => any(lookahead)(sgd(0.1), { k: 5 })).toThrowError(
      /^lookahead: unknown option "k" \(did you mean "syncPeriod"\?\)/,
    );
    // A key with nothing in common gets no guess, only the list.
    expect(() => any(adam)(0.1, { zzz: 1 })).toThrowError(
      /^adam: unknown option "zzz"; its options are b1, b2, eps, epsRoot, nesterov$/,
    );
  });

  it("a wrapped factory reports under its own name", () => {
    expect(() => rmsprop(0.1, { momentum: -0.5 })).toThrowError(/^rmsprop: momentum must be a number >= 0/);
    expect(() => rmsprop(0.1, { decay: 1 })).toThrowError(/^rmsprop: decay must be a number in \[0, 1\)/);
    expect(() => sgd(0.1, { momentum: -1 })).toThrowError(/^sgd: momentum must be/);
    expect(() => adam(0.1, { b1: 2 })).toThrowError(/^adam: b1 must be/);
    expect(() => adamw(0.1, { mask: 3 as never })).toThrowError(/^adamw: mask must be/);
    expect(() => ranger(0.1, { syncPeriod: 0 })).toThrowError(/^ranger: syncPeriod must be/);
    expect(() => ranger(0.1, { b2: 1 })).toThrowError(/^ranger: b2 must be/);
    expect(() => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 0 })).toThrowError(
      /^linearSchedule: transitionSteps/,
    );
    // The building blocks still report under their own names when called directly.
    expect(() => trace(-1)).toThrowError(/^trace: decay must be/);
    expect(() => scaleByAdam({ b1: 2 })).toThrowError(/^scaleByAdam: b1 must be/);
  });

  it("null is no options, also through safeFactory", () => {
    expect(E.isRight(safeFactory(adam)(0.1, null))).toBe(true);
    expect(E.isRight(safeFactory(lookahead)(sgd(0.1), null))).toBe(true);
    const left = safeFactory(any(sgd))(0.1, 0.9);
    expect(E.isLeft(left) && left.left.code).toBe("INVALID_HYPERPARAMETER");
  });

  it("the options a factory keeps are its own copy: changing the caller's object later changes nothing", () => {
    const options = { momentum: 0.9 };
    const tx = sgd(1, options);
    options.momentum = 0;
    const x = Float64Array.of(1);
    const [, s1] = tx.update(x, tx.init(x), x);
    const [u2] = tx.update(x, s1, x);
    // With momentum 0.9 the second trace is 1 + 0.9 * 1.
    expect(Array.from(u2 as Float64Array)).toEqual([-1.9]);
  });
});
