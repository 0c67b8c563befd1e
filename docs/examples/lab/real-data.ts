/**
 * Parts 3 and 4 on real data: the MLP on MNIST digits with SGD, Lookahead(SGD), Adam,
 * Lookahead(Adam) and ranger over seeds; the learning-rate robustness sweep of Figure 8; the
 * inner-state policies; and fixed versus adaptive alpha (Figure 2) with Adam at two learning
 * rates. Every number comes from gradtx training the hand-written network.
 */
import {
  adam,
  lookahead,
  ranger,
  sgd,
  type GradientTransformation,
  type InnerStatePolicy,
  type LookaheadState,
} from "gradtx";
import { train, type TrainResult } from "./mlp.js";

export interface Budget {
  readonly epochs: number;
  readonly batch: number;
  readonly seeds: readonly number[];
}

export interface RunRow {
  readonly optimizer: string;
  readonly seed: number;
  readonly testAccuracy: number;
  readonly finalTrainLoss: number;
  readonly curve: { step: number; loss: number }[];
}

function run(name: string, tx: GradientTransformation, seed: number, budget: Budget): RunRow {
  const result: TrainResult = train(tx, {
    epochs: budget.epochs,
    batch: budget.batch,
    seed,
    label: `${name} seed ${seed}`,
  });
  // Lookahead is evaluated on its slow weights; the others on their only weights.
  return {
    optimizer: name,
    seed,
    testAccuracy: result.slowTestAccuracy,
    finalTrainLoss: result.trainLoss.at(-1)!,
    curve: result.curve,
  };
}

/** The five optimizers over seeds. */
export function compareOptimizers(budget: Budget): RunRow[] {
  const optimizers: [string, () => GradientTransformation][] = [
    ["SGD (lr 0.1, momentum 0.9)", () => sgd(0.1, { momentum: 0.9 })],
    ["LA(SGD)", () => lookahead(sgd(0.1, { momentum: 0.9 }))],
    ["Adam (lr 1e-3)", () => adam(1e-3)],
    ["LA(Adam)", () => lookahead(adam(1e-3))],
    ["ranger (lr 1e-3)", () => ranger(1e-3)],
  ];
  return optimizers.flatMap(([name, make]) => budget.seeds.map((seed) => run(name, make(), seed, budget)));
}

export interface SweepRow {
  readonly inner: string;
  readonly learningRate: number;
  readonly lookahead: boolean;
  readonly finalTrainLoss: number;
  readonly testAccuracy: number;
}

/** Figure 8: final training loss across learning rates spanning 10x, with and without Lookahead. */
export function robustnessSweep(budget: Budget): SweepRow[] {
  const grids: [string, number[], (lr: number) => GradientTransformation][] = [
    ["SGD momentum 0.9", [0.03, 0.1, 0.3], (lr) => sgd(lr, { momentum: 0.9 })],
    ["Adam", [3e-4, 1e-3, 3e-3], (lr) => adam(lr)],
  ];
  const seed = budget.seeds[0]!;
  return grids.flatMap(([inner, lrs, make]) =>
    lrs.flatMap((lr) =>
      [false, true].map((withLookahead) => {
        const r = run(
          `${inner} lr ${lr}${withLookahead ? " + LA" : ""}`,
          withLookahead ? lookahead(make(lr)) : make(lr),
          seed,
          budget,
        );
        return {
          inner,
          learningRate: lr,
          lookahead: withLookahead,
          finalTrainLoss: r.finalTrainLoss,
          testAccuracy: r.testAccuracy,
        };
      }),
    ),
  );
}

export interface PolicyRow {
  readonly inner: string;
  readonly innerState: InnerStatePolicy;
  readonly finalTrainLoss: number;
  readonly testAccuracy: number;
}

/** The inner-state policies at a sync, on LA(SGD with momentum) and LA(Adam). */
export function innerStatePolicies(budget: Budget): PolicyRow[] {
  const inners: [string, () => GradientTransformation][] = [
    ["SGD momentum 0.9", () => sgd(0.1, { momentum: 0.9 })],
    ["Adam", () => adam(1e-3)],
  ];
  const policies: InnerStatePolicy[] = ["keep", "reset", "interpolate"];
  const seed = budget.seeds[0]!;
  return inners.flatMap(([inner, make]) =>
    policies.map((innerState) => {
      const r = run(`LA(${inner}) ${innerState}`, lookahead(make(), { innerState }), seed, budget);
      return { inner, innerState, finalTrainLoss: r.finalTrainLoss, testAccuracy: r.testAccuracy };
    }),
  );
}

/** What adaptive alpha chose over a run's syncs. */
export interface AlphaChoices {
  readonly syncs: number;
  /** Syncs whose estimate was above 1 (or not finite), so alpha was 1: no pull back. */
  readonly atOne: number;
  /** Syncs whose estimate was below alphaLow, so alpha was alphaLow. */
  readonly atLow: number;
  /** The median estimate before clipping. */
  readonly medianEstimate: number;
}

export interface AlphaRow {
  readonly learningRate: number;
  readonly optimizer: string;
  readonly finalTrainLoss: number;
  readonly testAccuracy: number;
  readonly curve: { step: number; loss: number }[];
  /** With adaptive alpha: the step sizes it chose. */
  readonly choices?: AlphaChoices;
}

const SYNC_PERIOD = 5;
const ALPHA_LOW = 0.1;

/**
 * `tx` unchanged, with a log of the adaptive step size its state records at each sync: an
 * observer around the pure update, so the run's numbers are those of `tx` itself.
 */
function recordingAlpha<S>(
  tx: GradientTransformation<LookaheadState<S>>,
  log: { alpha: number; estimate: number }[],
): GradientTransformation<LookaheadState<S>> {
  return {
    init: (params) => tx.init(params),
    update: (updates, state, params) => {
      const out = tx.update(updates, state, params);
      const { count, adaptive } = out[1];
      if (adaptive !== undefined && count % SYNC_PERIOD === 0)
        log.push({ alpha: adaptive.alpha, estimate: adaptive.estimate });
      return out;
    },
  };
}

function summarize(log: readonly { alpha: number; estimate: number }[]): AlphaChoices {
  const estimates = log.map((c) => c.estimate).sort((a, b) => a - b);
  return {
    syncs: log.length,
    atOne: log.filter((c) => c.alpha === 1).length,
    atLow: log.filter((c) => c.alpha === ALPHA_LOW).length,
    medianEstimate: estimates[Math.floor(estimates.length / 2)] ?? NaN,
  };
}

/**
 * Figure 2: Adam, Lookahead with fixed alpha 0.5, and adaptive alpha, at two learning rates,
 * with the step sizes adaptive alpha chose.
 */
export function adaptiveAlpha(budget: Budget): AlphaRow[] {
  const seed = budget.seeds[0]!;
  return [1e-3, 3e-3].flatMap((lr) => {
    const log: { alpha: number; estimate: number }[] = [];
    const adaptive = lookahead(adam(lr), { syncPeriod: SYNC_PERIOD, alpha: "adaptive", alphaLow: ALPHA_LOW });
    const optimizers: [string, GradientTransformation][] = [
      ["Adam", adam(lr)],
      ["LA(Adam) alpha 0.5", lookahead(adam(lr), { alpha: 0.5 })],
      ["LA(Adam) adaptive alpha", recordingAlpha(adaptive, log)],
    ];
    return optimizers.map(([name, tx]) => {
      const r = run(`${name} lr ${lr}`, tx, seed, budget);
      return {
        learningRate: lr,
        optimizer: name,
        finalTrainLoss: r.finalTrainLoss,
        testAccuracy: r.testAccuracy,
        curve: r.curve,
        ...(name === "LA(Adam) adaptive alpha" ? { choices: summarize(log) } : {}),
      };
    });
  });
}
