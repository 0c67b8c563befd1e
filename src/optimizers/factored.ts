/**
 * Optimizers that read the params' shapes: Adafactor (factored second moments), SM3 (per-axis
 * accumulators) and optax.contrib's Muon (orthogonalized momentum for matrices, AdamW for the
 * rest), each built of gradtx's blocks with optax's defaults.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { ExtraArgs, GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { positional } from "./standard.js";
import { ema } from "../transforms/accumulation.js";
import { addDecayedWeights, type Mask } from "../transforms/adding.js";
import { clipByBlockRms } from "../transforms/clipping.js";
import { scaleByFactoredRms } from "../transforms/factored.js";
import { scaleBySm3, type ScaleBySm3State } from "../transforms/sm3.js";
import { scaleByMuon, scaleByShape, SCALE_BY_MUON_KEYS, type NsCoeffs } from "../transforms/muon.js";
import { multiTransform, type MultiTransformState } from "../combinators/multi-transform.js";
import { leafOfShape, readShaped, shapesRecord } from "../transforms/shaped.js";
import { dataOf, flatten, unflatten, type Flat, type PyTree } from "../core/pytree.js";
import { adamw } from "./standard.js";
import { scaleByParamBlockRms } from "../transforms/param-block.js";
import { scale, scaleByLearningRate } from "../transforms/scaling.js";
import {
  DECAY,
  asFactory,
  checkBoolean,
  checkNumber,
  checkScalarOrSchedule,
  invalid,
  readOptions,
} from "../core/validate.js";

/** Options of {@link adafactor}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface AdafactorOptions {
  /** Factor the statistics only if the second largest dimension is at least this. Default 128. */
  readonly minDimSizeToFactor?: number;
  /** The exponent of the second moment's decay schedule `1 - (t + 1)^-decayRate`. Default 0.8. */
  readonly decayRate?: number;
  /** Subtracted from the step count in the schedule (the fine-tuning phase's first step). Default 0. */
  readonly decayOffset?: number;
  /** Multiply the step by each leaf's parameter RMS (at least 1e-3): the learning rate is relative. Default true. */
  readonly multiplyByParameterScale?: boolean;
  /** Clip each leaf's update to this RMS; `null` disables clipping. Default 1. */
  readonly clippingThreshold?: number | null;
  /** The decay of an (undebiased) moving average of the updates; `null`, the default, keeps none. */
  readonly momentum?: number | null;
  /** Weight decay added after the scaling (not multiplied by the learning rate); `null`, the default, adds none. */
  readonly weightDecayRate?: number | null;
  /** Added to the squared gradient. Default 1e-30. */
  readonly eps?: number;
  /** Whether to factor the second moments at all. Default true. */
  readonly factored?: boolean;
  /** Which leaves to decay (default all). */
  readonly weightDecayMask?: Mask;
}

const ADAFACTOR_KEYS = [
  "minDimSizeToFactor",
  "decayRate",
  "decayOffset",
  "multiplyByParameterScale",
  "clippingThreshold",
  "momentum",
  "weightDecayRate",
  "eps",
  "factored",
  "weightDecayMask",
] as const;

/**
 * Adafactor (Shazeer and Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
 * Cost"), as optax's `adafactor`: the chain
 *
 * ```
 * scaleByFactoredRms({ factored, decayRate, stepOffset: decayOffset, minDimSizeToFactor, epsilon: eps })
 * clipByBlockRms(clippingThreshold)               unless clippingThreshold is null
 * scaleByLearningRate(lr, { flipSign: false })    unless learningRate is null or omitted
 * scaleByParamBlockRms()                          if multiplyByParameterScale: u * max(rms(p), 1e-3)
 * ema(momentum, { debias: false })                unless momentum is null
 * addDecayedWeights(weightDecayRate, { mask })    unless weightDecayRate is null
 * scale(-1)
 * ```
 *
 * so a step is `p' = p - lr * max(rms(p), 1e-3) * clip(g / sqrt(v^))` with `v^` the factored
 * estimate of `E[g^2]` ({@link scaleByFactoredRms}). The elementwise parts fuse with each other;
 * the factored rescaling runs as plain TypeScript before them. With `multiplyByParameterScale`
 * the learning rate is relative to the params' size, so Adafactor's are larger than Adam's (optax's
 * doctest uses 0.003 on `sum(x^2)`). Leaves are factored only from 128 by 128 up by default.
 * optax's `dtype_momentum` is not offered (the average has the params' dtype), and
 * `weightDecayRate` is a number, not a schedule.
 *
 * @param learningRate The step size, a number or a schedule; `null` or omitted leaves it out
 *   (the update is then the relative step itself, as optax's `learning_rate=None`).
 * @param options optax's keyword arguments, camelCased; see {@link AdafactorOptions}.
 * @example
 * ```ts
 * import { adafactor, applyUpdates } from "gradtx";
 * // optax's doctest: sum(x^2) from [1, 2, 3] with learning rate 0.003.
 * const opt = adafactor(0.003);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let t = 0; t < 5; t++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * // optax prints 1.36E+01 after the fifth step.
 * x.reduce((s, v) => s + v * v, 0).toExponential(2); // "1.36e+1"
 * ```
 * @since 0.3.0
 */
export function adafactor(
  learningRate?: ScalarOrSchedule | null,
  options?: AdafactorOptions | null,
): GradientTransformation {
  const where = "adafactor";
  options = readOptions(where, options, ADAFACTOR_KEYS, {
    hint: positional(
      where,
      "min_dim_size_to_factor, decay_rate, decay_offset, multiply_by_parameter_scale, clipping_threshold",
      "minDimSizeToFactor: 128, decayRate: 0.8",
    ),
    aliases: {
      mask: "weightDecayMask",
      weightDecay: "weightDecayRate",
      dtypeMomentum: "not offered: the average has the params' dtype",
    },
  });
  if (learningRate !== undefined && learningRate !== null) checkScalarOrSchedule(where, "learningRate", learningRate);
  const o = options;
  const scaleByParams = checkBoolean(where, "multiplyByParameterScale", o.multiplyByParameterScale ?? true);
  const threshold = o.clippingThreshold === undefined ? 1 : o.clippingThreshold;
  const momentum = o.momentum ?? null;
  const decayRate = o.weightDecayRate ?? null;
  if (threshold !== null) checkNumber(where, "clippingThreshold", threshold, { min: 0, minExclusive: true });
  return asFactory(where, () =>
    chain(
      scaleByFactoredRms({
        factored: o.factored ?? true,
        decayRate: o.decayRate ?? 0.8,
        stepOffset: o.decayOffset ?? 0,
        minDimSizeToFactor: o.minDimSizeToFactor ?? 128,
        epsilon: o.eps ?? 1e-30,
      }),
      ...(threshold === null ? [] : [clipByBlockRms(threshold)]),
      ...(learningRate === undefined || learningRate === null
        ? []
        : [scaleByLearningRate(learningRate, { flipSign: false })]),
      ...(scaleByParams ? [scaleByParamBlockRms()] : []),
      ...(momentum === null ? [] : [ema(momentum, { debias: false })]),
      ...(decayRate === null
        ? []
        : [addDecayedWeights(decayRate, o.weightDecayMask === undefined ? {} : { mask: o.weightDecayMask })]),
      scale(-1),
    ),
  );
}

/**
 * SM3 (Anil et al., 2019, "Memory-Efficient Adaptive Optimization"), as optax's `sm3`:
 * {@link scaleBySm3} with `b1` the momentum, then `scale(-learningRate)`.
 *
 * ```
 * accum = g^2 + min over the axes' accumulators covering the element
 * nu'   = (1 - momentum) g / sqrt(accum + 1e-8) + momentum nu,    p' = p - lr nu'
 * ```
 *
 * Its memory is one accumulator per row and per column of a matrix (per index of each axis).
 * The learning rate is a number, as optax's (`scale(-learning_rate)`, no schedule).
 *
 * @param learningRate >= 0.
 * @param options `momentum` 0.9, in [0, 1).
 * @example
 * ```ts
 * import { applyUpdates, sm3 } from "gradtx";
 * // optax's doctest: sum(x^2) from [1, 2, 3] at 0.003 stays at 1.40E+01 for five steps.
 * const opt = sm3(0.003);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let t = 0; t < 5; t++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * x.reduce((s, v) => s + v * v, 0).toExponential(2); // "1.40e+1"
 * ```
 * @since 0.3.0
 */
export function sm3(
  learningRate: number,
  options?: { readonly momentum?: number } | null,
): GradientTransformation<[ScaleBySm3State, ShapesState]> {
  options = readOptions("sm3", options, ["momentum"], {
    hint: positional("sm3", "momentum", "momentum: 0.9"),
    aliases: { b1: "momentum" },
  });
  checkNumber("sm3", "learningRate", learningRate, { min: 0 });
  const momentum = checkNumber("sm3", "momentum", options.momentum ?? 0.9, DECAY);
  return asFactory("sm3", () => chain(scaleBySm3({ b1: momentum }), scale(-learningRate)));
}

/** The Newton–Schulz coefficient presets of optax's `muon`: `"standard"` (Jordan's) and `"dion"` (five steps' own). */
const NS_PRESETS: Readonly<Record<string, NsCoeffs>> = {
  standard: [3.4445, -4.775, 2.0315],
  dion: [
    [4.0848, -6.8946, 2.927],
    [3.9505, -6.3029, 2.6377],
    [3.7418, -5.5913, 2.3037],
    [2.8769, -3.1427, 1.2046],
    [2.8366, -3.0525, 1.2012],
  ],
};

/**
 * The state of {@link muon}: the params' shapes, which decide each leaf's label, and the state of
 * the `multiTransform` of Muon's and AdamW's chains (optax's `PartitionState`).
 *
 * @since 0.3.0
 */
export interface MuonOptimizerState extends ShapesState {
  /** `{ inner: { muon, adam } }`: each chain's state over its own leaves. */
  readonly inner: MultiTransformState;
}

/** Options of {@link muon}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface MuonOptions {
  /** Newton–Schulz coefficients: a triple, a triple per step, or a preset, `"standard"` (the default) or `"dion"`. */
  readonly nsCoeffs?: NsCoeffs | "standard" | "dion";
  /** Newton–Schulz steps. Default 5. */
  readonly nsSteps?: number;
  /** Muon's momentum decay. Default 0.95. */
  readonly beta?: number;
  /** Added to the Frobenius norm, and AdamW's `eps`. Default 1e-8. */
  readonly eps?: number;
  /** Decoupled weight decay of the matrices, multiplied by the learning rate. Default 0. */
  readonly weightDecay?: number;
  /** Which matrices to decay (default all). */
  readonly weightDecayMask?: Mask;
  /** Nesterov momentum, for Muon and AdamW. Default true. */
  readonly nesterov?: boolean;
  /** Scale the orthogonalized update by its inner product with the momentum. Default false. */
  readonly adaptive?: boolean;
  /** Only `"frobenius"` (the default). */
  readonly preconditioning?: "frobenius";
  /** AdamW's `b1` for the other leaves. Default 0.9. */
  readonly adamB1?: number;
  /** AdamW's `b2`. Default 0.999. */
  readonly adamB2?: number;
  /** AdamW's `epsRoot`. Default 0. */
  readonly adamEpsRoot?: number;
  /** AdamW's weight decay. Default 0. */
  readonly adamWeightDecay?: number;
  /** AdamW's learning rate; default the learning rate. */
  readonly adamLearningRate?: ScalarOrSchedule | null;
  /** Scale a matrix's update by `sqrt(max(fanIn, fanOut)) * consistentRms` instead of `sqrt(max(1, fanOut / fanIn))`; `null`, the default, is the latter. */
  readonly consistentRms?: number | null;
}

/**
 * Muon (Jordan, 2024; Liu et al., 2025, "Muon is Scalable for LLM Training"), as optax.contrib's
 * `muon`: every 2-D ndarray leaf `[fanIn, fanOut]` gets {@link scaleByMuon}'s orthogonalized
 * momentum, then a width scaling, decoupled weight decay and the learning rate; every other leaf
 * (typed arrays, ndarrays of another rank) gets AdamW with Nesterov momentum:
 *
 * ```
 * matrices:  p' = p - lr * (s * NewtonSchulz(m^) + weightDecay p),  s = sqrt(max(1, fanOut / fanIn))
 *                                                     (consistentRms: s = sqrt(max(fanIn, fanOut)) * consistentRms)
 * others:    adamw(adamLearningRate ?? lr, { b1: adamB1, b2: adamB2, eps, epsRoot: adamEpsRoot,
 *                                            weightDecay: adamWeightDecay, nesterov })
 * ```
 *
 * It is a `multiTransform` with the labels `"muon"` and `"adam"`, decided by each leaf's shape
 * at `init` (a flat gradient of a matrix is read in the matrix's shape). The whole runs as plain
 * TypeScript between the executor's passes (inside it, AdamW's parts still fuse with each other).
 * optax's `muon_weight_dimension_numbers` (which reshapes leaves of other ranks into matrices)
 * and `mu_dtype` are not offered; a weight decay schedule neither.
 *
 * @param learningRate A number or a schedule.
 * @param options optax's keyword arguments, camelCased; see {@link MuonOptions}.
 * @example
 * ```ts
 * import ndarray from "ndarray";
 * import { muon } from "gradtx";
 * const opt = muon(0.02);
 * const params = { w: ndarray(new Float64Array(6).fill(1), [2, 3]), b: Float64Array.of(1, 2) };
 * const state = opt.init(params);
 * Object.keys(state.inner.inner); // ["adam", "muon"]
 * const grads = { w: ndarray(Float64Array.of(1, 0, 0, 0, 2, 0), [2, 3]), b: Float64Array.of(0.5, -1) };
 * const [u] = opt.update(grads, state, params);
 * // The bias takes AdamW's first Nesterov step, about lr (0.09 / 0.19 + 1) sign(g).
 * const b = (u as { b: Float64Array }).b;
 * Array.from(b); // ≈ [-0.02 * (0.09 / 0.19 + 1), 0.02 * (0.09 / 0.19 + 1)]
 * ```
 * @since 0.3.0
 */
export function muon(
  learningRate: ScalarOrSchedule,
  options?: MuonOptions | null,
): GradientTransformation<MuonOptimizerState> {
  const where = "muon";
  options = readOptions(
    where,
    options,
    [
      ...SCALE_BY_MUON_KEYS,
      "weightDecay",
      "weightDecayMask",
      "adamB1",
      "adamB2",
      "adamEpsRoot",
      "adamWeightDecay",
      "adamLearningRate",
      "consistentRms",
    ],
    {
      hint: positional(where, "ns_coeffs, ns_steps, beta, eps, weight_decay", "nsSteps: 5, beta: 0.95"),
      aliases: {
        muDtype: "not offered: the momentum has the params' dtype",
        muonWeightDimensionNumbers: "not offered: Muon takes the 2-D ndarray leaves, AdamW the others",
        mask: "weightDecayMask",
      },
    },
  );
  checkScalarOrSchedule(where, "learningRate", learningRate);
  const o = options;
  const preset = typeof o.nsCoeffs === "string" ? NS_PRESETS[o.nsCoeffs] : o.nsCoeffs;
  if (typeof o.nsCoeffs === "string" && preset === undefined)
    invalid(where, `nsCoeffs must be a triple, triples, "standard" or "dion", got ${JSON.stringify(o.nsCoeffs)}`);
  const consistentRms = o.consistentRms ?? null;
  if (consistentRms !== null) checkNumber(where, "consistentRms", consistentRms, { min: 0, minExclusive: true });
  const adamLearningRate = o.adamLearningRate ?? learningRate;
  const nesterov = o.nesterov ?? true;
  const inner = asFactory(where, () =>
    multiTransform(
      {
        muon: chain(
          scaleByMuon({
            ...(preset === undefined ? {} : { nsCoeffs: preset }),
            ...(o.nsSteps === undefined ? {} : { nsSteps: o.nsSteps }),
            ...(o.beta === undefined ? {} : { beta: o.beta }),
            ...(o.eps === undefined ? {} : { eps: o.eps }),
            ...(o.adaptive === undefined ? {} : { adaptive: o.adaptive }),
            ...(o.preconditioning === undefined ? {} : { preconditioning: o.preconditioning }),
            nesterov,
          }),
          scaleByShape(consistentRms),
          addDecayedWeights(o.weightDecay ?? 0, o.weightDecayMask === undefined ? {} : { mask: o.weightDecayMask }),
          scaleByLearningRate(learningRate),
        ),
        adam: adamw(adamLearningRate, {
          b1: o.adamB1 ?? 0.9,
          b2: o.adamB2 ?? 0.999,
          eps: o.eps ?? 1e-8,
          epsRoot: o.adamEpsRoot ?? 0,
          weightDecay: o.adamWeightDecay ?? 0,
          nesterov,
        }),
      },
      (_path, leaf) => (isMatrix(leaf) ? "muon" : "adam"),
    ),
  );
  // The labels come from the leaves multiTransform is given: the updates are given the params'
  // shapes first (recorded at init), so that a flat gradient of a matrix still goes to Muon.
  const init = (params: PyTree): MuonOptimizerState => ({ shapes: shapesRecord(params), inner: inner.init(params) });
  const update = (
    updates: PyTree,
    state: MuonOptimizerState,
    params?: PyTree,
    extra?: ExtraArgs,
  ): readonly [PyTree, MuonOptimizerState] => {
    const flat = flatten(updates);
    const { record, shapes } = readShaped<MuonOptimizerState>(where, state, ["shapes", "inner"], flat);
    const asRecorded = (tree: Flat): PyTree =>
      unflatten(
        tree.def,
        tree.leaves.map((leaf, i) => (shapes[i]!.length === 2 ? leafOfShape(dataOf(leaf), shapes[i]!) : leaf)),
      );
    const given = params === undefined ? undefined : asRecorded(flatten(params));
    const [u, next] = inner.update(asRecorded(flat), record.inner, given, extra);
    return [u, { shapes: record.shapes, inner: next }];
  };
  return barrier("Muon", init, update);
}

/** Whether a leaf is a 2-D ndarray: what Muon orthogonalizes. */
const isMatrix = (leaf: unknown): boolean =>
  typeof leaf === "object" &&
  leaf !== null &&
  !ArrayBuffer.isView(leaf) &&
  (leaf as { shape: unknown[] }).shape.length === 2;
