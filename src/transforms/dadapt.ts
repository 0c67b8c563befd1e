/**
 * Learning-rate-free AdamW: D-Adaptation (Defazio and Mishchenko, 2023) and Prodigy (Mishchenko
 * and Defazio, 2023), as optax.contrib's `dadapt_adamw` and `prodigy`. Each is one kernel: its
 * estimate of the distance to the solution is a number the state carries, moved once per step
 * from the step's reductions, and its moments are slots like Adam's.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { abs, add, constant, div, gt, mul, select, sqrt, sub, type Expr } from "../kernels/expr.js";
import { declare, type Inputs, type Scalars } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { decayFlags, type Mask } from "./adding.js";
import { DECAY, checkBoolean, checkNumber, checkScalarOrSchedule, invalid, readOptions } from "../core/validate.js";

/** The state of {@link dadaptAdamw}: optax's `DAdaptAdamWState`. @since 0.3.0 */
export interface DAdaptAdamWState {
  /** Moving average of the gradients, each scaled by the step's learning rate. */
  readonly expAvg: PyTree;
  /** Moving average of the squared gradients. */
  readonly expAvgSq: PyTree;
  /** Moving average of the gradients scaled by the learning rate, with decay sqrt(b2). */
  readonly gradSum: PyTree;
  /** The learning rate estimate, d (a float64 number; it never falls). */
  readonly estimLr: number;
  /** The weighted sum whose ratio to `||gradSum||_1` estimates d (a float64 number). */
  readonly numeratorWeighted: number;
  /** Steps taken. */
  readonly count: number;
}

/** The state of {@link prodigy}: optax's `ProdigyState`. @since 0.3.0 */
export interface ProdigyState extends DAdaptAdamWState {
  /** The params at init, x0. */
  readonly params0: PyTree;
}

/** Options of {@link dadaptAdamw} (optax's names, camelCased). @since 0.3.0 */
export interface DAdaptAdamWOptions {
  /** Adam's decays `[b1, b2]`, each in [0, 1). Default `[0.9, 0.999]`. */
  readonly betas?: readonly [number, number];
  /** Adam's eps, added to the root, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** The initial (under-)estimate of the learning rate, > 0. Default 1e-6. */
  readonly estimLr0?: number;
  /** AdamW's decoupled weight decay, >= 0, times the adapted learning rate. Default 0. */
  readonly weightDecay?: number;
}

/** Options of {@link prodigy} (optax's names, camelCased). @since 0.3.0 */
export interface ProdigyOptions extends DAdaptAdamWOptions {
  /** The decay of the estimate's sums, in [0, 1); default `sqrt(b2)`. */
  readonly beta3?: number | null;
  /** Multiplies each estimate, > 0. Default 1. */
  readonly estimLrCoef?: number;
  /** Leave the learning rate out of the sum of gradients, for a warm-up. Default false. */
  readonly safeguardWarmup?: boolean;
  /** Which leaves to decay (default all). */
  readonly weightDecayMask?: Mask;
}

const DADAPT_KEYS = ["betas", "eps", "estimLr0", "weightDecay"] as const;

/** The learning rate of the step at `count`, from a number or a schedule. */
const scheduled = (learningRate: ScalarOrSchedule, count: number): number =>
  typeof learningRate === "function" ? learningRate(count) : learningRate;

/** Adam's decays, checked. */
function readBetas(where: string, betas: unknown): readonly [number, number] {
  if (betas === undefined) return [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2)
    invalid(where, `betas must be a pair [b1, b2], got ${JSON.stringify(betas)}`);
  return [checkNumber(where, "betas[0]", betas[0], DECAY), checkNumber(where, "betas[1]", betas[1], DECAY)];
}

/** D-Adaptation's and Prodigy's common options, checked. */
function readCommon(where: string, learningRate: ScalarOrSchedule, options: DAdaptAdamWOptions) {
  checkScalarOrSchedule(where, "learningRate", learningRate);
  const [b1, b2] = readBetas(where, options.betas);
  return {
    b1,
    b2,
    eps: checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 }),
    estimLr0: checkNumber(where, "estimLr0", options.estimLr0 ?? 1e-6, { min: 0, minExclusive: true }),
    weightDecay: checkNumber(where, "weightDecay", options.weightDecay ?? 0, { min: 0 }),
  };
}

/**
 * The next learning rate estimate: the larger of the current one and the step's, except where
 * the step has none, its sum of gradients being exactly 0 (optax's 0 / 0 makes it NaN for good).
 */
const raised = (current: number, estimate: number, l1: number): number =>
  l1 === 0 ? current : Math.max(current, estimate);

/** AdamW's bias correction of the step at `count`: sqrt(1 - b2^t) / (1 - b1^t). */
const adamCorrection = (b1: number, b2: number, count: number): number => {
  const t = increment(count);
  return Math.sqrt(biasCorrection(b2, t)) / biasCorrection(b1, t);
};

/**
 * AdamW whose learning rate is adapted by D-Adaptation (Defazio and Mishchenko, 2023,
 * "Learning-Rate-Free Learning by D-Adaptation"), as optax.contrib's `dadapt_adamw`. With `t` the
 * step, `lr` the learning rate (a schedule's value at the count) and `b = sqrt(b2)`:
 *
 * ```
 * dlr = d lr sqrt(1 - b2^t) / (1 - b1^t)
 * num = b num + (1 - b) dlr <g, s / (sqrt(v) + eps)>            (the old s and v)
 * m'  = b1 m + (1 - b1) dlr g,   v' = b2 v + (1 - b2) g^2,   s' = b s + (1 - b) dlr g
 * d'  = max(d, num / ((1 - b) ||s'||_1))
 * u'  = -weightDecay dlr p - m' / (sqrt(v') + eps)
 * ```
 *
 * The update is the whole step (the learning rate is inside, as in optax): apply it as it is.
 * **Differs from optax** where every gradient so far is 0 (or scales to 0): then `||s'||_1 = 0`
 * and optax's estimate is 0 / 0, NaN, which ends training; gradtx keeps `d` there, so a zero
 * gradient is a zero step (NaN gradients still make it NaN).
 * One kernel: the two sums are its reductions (the l1 norm of the next `s`, computed from the
 * step's scalars), and `d` and `num` are float64 numbers of the state (optax keeps them in the
 * params' lowest dtype). `update` needs the params, as optax's does.
 *
 * @param learningRate A multiplier of the adapted rate, or a schedule of it; default 1.
 * @example
 * ```ts
 * import { dadaptAdamw } from "gradtx";
 * const opt = dadaptAdamw();
 * const x = Float64Array.of(1, 2);
 * const [u, state] = opt.update(Float64Array.of(2, 4), opt.init(x), x);
 * // dlr is 1e-6 sqrt(0.001) / 0.1, m' is 0.1 dlr g and v' is 0.001 g^2: u is -m' / (sqrt(v') + 1e-8).
 * // u ≈ [-1e-6, -1e-6]; state.estimLr = 1e-6: the first numerator is 0
 * ```
 * @since 0.3.0
 */
export function dadaptAdamw(
  learningRate: ScalarOrSchedule = 1,
  options: DAdaptAdamWOptions | null = {},
): GradientTransformation<DAdaptAdamWState> {
  const where = "dadaptAdamw";
  options = readOptions(where, options, DADAPT_KEYS, {
    hint: "optax's dadapt_adamw(learning_rate, betas, eps, estim_lr0, weight_decay) is dadaptAdamw(1, { betas: [0.9, 0.999], eps: 1e-8, estimLr0: 1e-6, weightDecay: 0 })",
  });
  const { b1, b2, eps, estimLr0, weightDecay } = readCommon(where, learningRate, options);
  const sb2 = Math.sqrt(b2);
  /** The scalars of the step known before its sums. */
  const before = (count: number, carried: Readonly<Record<string, number>>) => {
    const dlr = carried.estimLr! * scheduled(learningRate, count) * adamCorrection(b1, b2, count);
    return { dlr, sumCoef: (1 - sb2) * dlr, avgCoef: (1 - b1) * dlr, negDecay: -weightDecay * dlr };
  };
  const nextSum = ({ x, gradSum }: Inputs<"gradSum">, s: Scalars<string>): Expr =>
    add(mul(s.sb2!, gradSum), mul(s.sumCoef!, x));
  return elementwise<DAdaptAdamWState>(
    declare({
      name: where,
      slots: { expAvg: 0, expAvgSq: 0, gradSum: 0 },
      counted: true,
      readsParams: true,
      hyper: { b1, b2, a2: 1 - b2, sb2, eps },
      carry: { estimLr: estimLr0, numeratorWeighted: 0 },
      before: (_, count, carried) => before(count, carried),
      reductions: {
        numerator: {
          over: "tree",
          of: ({ x, gradSum, expAvgSq }, s) => [x, div(gradSum, add(sqrt(expAvgSq), s.eps!))],
        },
        l1: { over: "tree", of: (v, s) => [abs(nextSum(v as Inputs<"gradSum">, s)), constant(1)] },
      },
      scalars: (_, count, r, carried) => {
        const known = before(count, carried);
        const numeratorWeighted = sb2 * carried.numeratorWeighted! + (1 - sb2) * known.dlr * r.numerator;
        const estimate = numeratorWeighted / ((1 - sb2) * r.l1);
        return { ...known, numeratorWeighted, estimLr: raised(carried.estimLr!, estimate, r.l1) };
      },
      body: (v, s) => {
        const { x, p, expAvg, expAvgSq } = v;
        const m = add(mul(s.b1, expAvg), mul(s.avgCoef, x));
        const sq = add(mul(s.b2, expAvgSq), mul(mul(s.a2, x), x));
        const update = sub(mul(s.negDecay, p), div(m, add(sqrt(sq), s.eps)));
        return { update, expAvg: m, expAvgSq: sq, gradSum: nextSum(v, s) };
      },
    }),
  );
}

/**
 * Prodigy (Mishchenko and Defazio, 2023, "Prodigy: An Expeditiously Adaptive Parameter-Free
 * Learner"), D-Adaptation's AdamW with an estimate that grows faster, as optax.contrib's
 * `prodigy`. With `t` the step, `lr` the learning rate (a schedule's value at the count), `d0` =
 * `estimLr0` and `x0` the params at init:
 *
 * ```
 * dlr = d lr sqrt(1 - b2^t) / (1 - b1^t),   dg = d g
 * m'  = b1 m + (1 - b1) dg,   v' = b2 v + (1 - b2) dg^2
 * s'  = beta3 s + dlr dg / d0                  (d dg / d0 with safeguardWarmup)
 * num = beta3 num + (d / d0) dlr <g, x0 - x>
 * d'  = max(d, estimLrCoef num / ||s'||_1)
 * u'  = -dlr m' / (sqrt(v') + d' eps) - weightDecay dlr p
 * ```
 *
 * The update is the whole step (the learning rate is inside, as in optax). One kernel, like
 * {@link dadaptAdamw}: `d` and `num` are float64 numbers of the state. **Differs from optax**
 * as {@link dadaptAdamw} does: where `||s'||_1 = 0` (every gradient so far 0) gradtx keeps `d`,
 * where optax's 0 / 0 makes it NaN.
 *
 * @param learningRate A multiplier of the adapted rate, or a schedule of it; default 1.
 * @example
 * ```ts
 * import { prodigy } from "gradtx";
 * const opt = prodigy();
 * const x = Float64Array.of(1, 2);
 * const [u, state] = opt.update(Float64Array.of(2, 4), opt.init(x), x);
 * // The params have not moved yet: the numerator is 0, so d stays 1e-6, and u is Adam's first step times 1e-6.
 * // u ≈ [-1e-6, -1e-6]; state.estimLr = 1e-6
 * ```
 * @since 0.3.0
 */
export function prodigy(
  learningRate: ScalarOrSchedule = 1,
  options: ProdigyOptions | null = {},
): GradientTransformation<ProdigyState> {
  const where = "prodigy";
  options = readOptions(
    where,
    options,
    [...DADAPT_KEYS, "beta3", "estimLrCoef", "safeguardWarmup", "weightDecayMask"],
    {
      hint: "optax's prodigy(learning_rate, betas, beta3, eps, estim_lr0, estim_lr_coef, weight_decay) is prodigy(1, { betas: [0.9, 0.999], eps: 1e-8, estimLr0: 1e-6, estimLrCoef: 1 })",
    },
  );
  const { b1, b2, eps, estimLr0, weightDecay } = readCommon(where, learningRate, options);
  const beta3 = checkNumber(where, "beta3", options.beta3 ?? Math.sqrt(b2), DECAY);
  const coef = checkNumber(where, "estimLrCoef", options.estimLrCoef ?? 1, { min: 0, minExclusive: true });
  const safeguard = checkBoolean(where, "safeguardWarmup", options.safeguardWarmup ?? false);
  const mask = options.weightDecayMask;
  /** The scalars of the step known before its sums. */
  const before = (count: number, carried: Readonly<Record<string, number>>) => {
    const d = carried.estimLr!;
    const dlr = d * scheduled(learningRate, count) * adamCorrection(b1, b2, count);
    return { dlr, d, negDlr: -dlr, sumCoef: safeguard ? d : dlr, decay: weightDecay * dlr };
  };
  const nextSum = ({ x, gradSum }: Inputs<"gradSum">, s: Scalars<string>): Expr =>
    add(mul(s.beta3!, gradSum), div(mul(s.sumCoef!, mul(s.d!, x)), s.estimLr0!));
  type Scalar = "dlr" | "d" | "negDlr" | "sumCoef" | "decay" | "numeratorWeighted" | "estimLr" | "epsTerm" | "decayed";
  type Hyper = "b1" | "a1" | "b2" | "a2" | "beta3" | "eps" | "estimLr0";
  return elementwise<ProdigyState>(
    declare<"expAvg" | "expAvgSq" | "gradSum" | "params0", Hyper, Scalar, "numerator" | "l1">({
      name: where,
      slots: { expAvg: 0, expAvgSq: 0, gradSum: 0, params0: "params" },
      counted: true,
      readsParams: true,
      hyper: { b1, a1: 1 - b1, b2, a2: 1 - b2, beta3, eps, estimLr0 },
      carry: { estimLr: estimLr0, numeratorWeighted: 0 },
      before: (_, count, carried) => before(count, carried),
      // The mask is a flag per leaf.
      leafScalars: ["decayed"],
      perLeaf: (params) => decayFlags(where, mask, params),
      reductions: {
        numerator: { over: "tree", of: ({ x, p, params0 }) => [x, sub(params0, p)] },
        l1: { over: "tree", of: (v, s) => [abs(nextSum(v as Inputs<"gradSum">, s)), constant(1)] },
      },
      scalars: (_, count, r, carried) => {
        const known = before(count, carried);
        const { dlr, d } = known;
        const numeratorWeighted = beta3 * carried.numeratorWeighted! + (d / estimLr0) * dlr * r.numerator;
        const estimLr = raised(d, (coef * numeratorWeighted) / r.l1, r.l1);
        // `decayed` is each leaf's flag, which `perLeaf` gives.
        return { ...known, numeratorWeighted, estimLr, epsTerm: estimLr * eps, decayed: 1 };
      },
      body: (v, s) => {
        const { x, p, expAvg, expAvgSq, params0 } = v;
        const dg = mul(s.d, x);
        const m = add(mul(s.b1, expAvg), mul(s.a1, dg));
        const sq = add(mul(s.b2, expAvgSq), mul(mul(s.a2, dg), dg));
        const step = div(mul(s.negDlr, m), add(sqrt(sq), s.epsTerm));
        const decayed = sub(step, mul(s.decay, p));
        const update = mask === undefined ? decayed : select(gt(s.decayed, 0), decayed, step);
        return { update, expAvg: m, expAvgSq: sq, gradSum: nextSum(v, s), params0 };
      },
    }),
  );
}
