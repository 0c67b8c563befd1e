/**
 * Part 1: the noisy quadratic model (paper, Section 3.1, Proposition 2), simulated with gradtx.
 *
 * Per coordinate, `loss_t(x) = a (x - c_t)^2 / 2` with `c_t ~ N(0, sigma^2)`; one leaf of many
 * coordinates holds many independent chains. The stationary variance of the SGD iterates, and of
 * Lookahead's slow weights at sync points, is measured and set beside the closed forms:
 *
 * ```
 * V_SGD = gamma^2 a^2 sigma^2 / (1 - (1 - gamma a)^2)
 * V_LA  = alpha^2 (1 - r^(2k)) / (alpha^2 (1 - r^(2k)) + 2 alpha (1 - alpha)(1 - r^k)) * V_SGD,  r = 1 - gamma a
 * ```
 *
 * (Sigma^2 in the paper is the variance sigma^2 of c.) Also Figure 3: the expected loss after a
 * budget of steps, for Lookahead and for SGD at the learning rate with the same steady-state risk.
 */
import { applyUpdates, lookahead, sgd, slowParams, type GradientTransformation } from "gradtx";
import { prng, progress } from "./mlp.js";

export interface NqmSetting {
  readonly a: number;
  readonly sigma: number;
  readonly gamma: number;
  readonly k: number;
  readonly alpha: number;
}

export interface NqmRow extends NqmSetting {
  readonly sgd: { formula: number; simulated: number; stderr: number };
  readonly lookahead: { formula: number; simulated: number; stderr: number };
  /** Whether a simulation is more than 4 standard errors from its formula. */
  readonly flagged: boolean;
}

/** The closed form of SGD's stationary variance. */
export function varianceSgd({ a, sigma, gamma }: NqmSetting): number {
  const r = 1 - gamma * a;
  return (gamma * gamma * a * a * sigma * sigma) / (1 - r * r);
}

/** Proposition 2's stationary variance of the slow weights at sync points. */
export function varianceLookahead(s: NqmSetting): number {
  const r = 1 - s.gamma * s.a;
  const r2k = 1 - r ** (2 * s.k);
  const rk = 1 - r ** s.k;
  return ((s.alpha * s.alpha * r2k) / (s.alpha * s.alpha * r2k + 2 * s.alpha * (1 - s.alpha) * rk)) * varianceSgd(s);
}

/** Standard normal draws from a seeded generator (Box-Muller). */
function normals(random: () => number, out: Float64Array, scale: number): void {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const t = 2 * Math.PI * random();
    out[i] = scale * r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = scale * r * Math.sin(t);
  }
}

/**
 * Runs `tx` on `chains` independent coordinates and measures E[x^2] (the variance: the mean is
 * 0) at the sampled steps, with a standard error from 20 independent groups of chains.
 */
function simulate(
  tx: GradientTransformation,
  s: NqmSetting,
  chains: number,
  burnIn: number,
  samples: number,
  sampleEvery: number,
  read: (params: Float64Array, state: unknown) => Float64Array,
  seed: number,
): { mean: number; stderr: number } {
  const random = prng(seed);
  let params = new Float64Array(chains);
  let state = tx.init(params);
  const c = new Float64Array(chains);
  const grads = new Float64Array(chains);
  const groups = 20;
  const sums = new Float64Array(groups);
  let taken = 0;
  for (let step = 1; taken < samples; step++) {
    normals(random, c, s.sigma);
    for (let i = 0; i < chains; i++) grads[i] = s.a * (params[i]! - c[i]!);
    const [u, next] = tx.update(grads, state, params);
    params = applyUpdates(params, u);
    state = next;
    if (step > burnIn && step % sampleEvery === 0) {
      const values = read(params, state);
      for (let i = 0; i < chains; i++) sums[i % groups]! += values[i]! * values[i]!;
      taken++;
    }
  }
  const perGroup = Array.from(sums, (sum) => sum / (taken * (chains / groups)));
  const mean = perGroup.reduce((p, v) => p + v, 0) / groups;
  const sd = Math.sqrt(perGroup.reduce((p, v) => p + (v - mean) ** 2, 0) / (groups - 1));
  return { mean, stderr: sd / Math.sqrt(groups) };
}

/** The settings simulated: oscillating SGD (gamma a > 1) and alpha = 1 among them. */
export const NQM_SETTINGS: readonly NqmSetting[] = [
  { a: 1, sigma: 1, gamma: 0.1, k: 5, alpha: 0.5 },
  { a: 1, sigma: 2, gamma: 0.5, k: 5, alpha: 0.5 },
  { a: 10, sigma: 1, gamma: 0.15, k: 5, alpha: 0.5 },
  { a: 5, sigma: 1, gamma: 0.35, k: 3, alpha: 0.3 },
  { a: 1, sigma: 1, gamma: 0.1, k: 10, alpha: 0.8 },
  { a: 2, sigma: 0.5, gamma: 0.3, k: 5, alpha: 1 },
  { a: 0.5, sigma: 3, gamma: 1, k: 4, alpha: 0.5 },
];

/** Simulates every setting; `scale` trades run time for standard error. */
export function runNqm(scale: number): NqmRow[] {
  const chains = Math.round(4000 * scale);
  const bar = progress("nqm", NQM_SETTINGS.length);
  const rows = NQM_SETTINGS.map((s, index) => {
    // Burn in long enough for the slowest setting to forget x = 0 (|r|^t below 1e-8).
    const r = Math.abs(1 - s.gamma * s.a);
    const burnIn = Math.ceil(Math.log(1e-8) / Math.log(Math.max(r, 1e-3))) * s.k + 50;
    const samples = Math.round(400 * scale);
    const plain = simulate(sgd(s.gamma), s, chains, burnIn, samples, 1, (p) => p, 1000 + index);
    const la = simulate(
      lookahead(sgd(s.gamma), { syncPeriod: s.k, alpha: s.alpha }),
      s,
      chains,
      burnIn,
      samples,
      s.k,
      (_p, state) => slowParams<Float64Array>(state),
      2000 + index,
    );
    bar.tick(index + 1, `setting ${index + 1}`);
    const sgdRow = { formula: varianceSgd(s), simulated: plain.mean, stderr: plain.stderr };
    const laRow = { formula: varianceLookahead(s), simulated: la.mean, stderr: la.stderr };
    const off = (x: { formula: number; simulated: number; stderr: number }) =>
      Math.abs(x.simulated - x.formula) > 4 * x.stderr;
    return { ...s, sgd: sgdRow, lookahead: laRow, flagged: off(sgdRow) || off(laRow) };
  });
  bar.end();
  return rows;
}

/** A diagonal noisy quadratic: curvatures `a`, noise standard deviations `sigma`, start `x0`. */
interface Model {
  readonly a: readonly number[];
  readonly sigma: readonly number[];
  readonly x0: readonly number[];
}

/** The expected loss of SGD after each of `steps` steps (mean and variance recursions). */
function expectedLossSgd(m: Model, gamma: number, steps: number): number[] {
  const mean = m.x0.slice();
  const variance = m.x0.map(() => 0);
  const out: number[] = [];
  for (let t = 0; t < steps; t++) {
    let loss = 0;
    m.a.forEach((a, i) => {
      const r = 1 - gamma * a;
      mean[i] = r * mean[i]!;
      variance[i] = r * r * variance[i]! + gamma * gamma * a * a * m.sigma[i]! ** 2;
      loss += 0.5 * a * (mean[i]! ** 2 + variance[i]! + m.sigma[i]! ** 2);
    });
    out.push(loss);
  }
  return out;
}

/** The expected loss of Lookahead's slow weights at each sync, indexed by step (k per sync). */
function expectedLossLookahead(m: Model, gamma: number, k: number, alpha: number, syncs: number): number[] {
  const mean = m.x0.slice();
  const variance = m.x0.map(() => 0);
  const out: number[] = [];
  for (let t = 0; t < syncs; t++) {
    let loss = 0;
    m.a.forEach((a, i) => {
      // k SGD steps from the slow weights contract by r^k and add noise; the slow weights move alpha of the way.
      const r = 1 - gamma * a;
      const contraction = 1 - alpha + alpha * r ** k;
      const noise = (gamma * gamma * a * a * m.sigma[i]! ** 2 * (1 - r ** (2 * k))) / (1 - r * r);
      mean[i] = contraction * mean[i]!;
      variance[i] = contraction * contraction * variance[i]! + alpha * alpha * noise;
      loss += 0.5 * a * (mean[i]! ** 2 + variance[i]! + m.sigma[i]! ** 2);
    });
    out.push(loss);
  }
  return out;
}

function steadyRisk(m: Model, variance: (a: number, sigma: number) => number): number {
  return m.a.reduce((s, a, i) => s + 0.5 * a * (variance(a, m.sigma[i]!) + m.sigma[i]! ** 2), 0);
}

export interface Figure3Row {
  readonly alpha: number;
  readonly steadyStateRisk: number;
  readonly gammaLookahead: number;
  readonly gammaSgd: number;
  readonly lossSgd: number;
  readonly lossLookahead: number;
  /** The same after a tenth of the steps, before either has settled. */
  readonly lossSgdEarly: number;
  readonly lossLookaheadEarly: number;
}

/**
 * Figure 3: for Lookahead (k 5) at each alpha, the SGD learning rate with the same steady-state
 * risk, and both expected losses after `steps` steps from the same start.
 */
export function figure3(steps = 1000): {
  rows: Figure3Row[];
  curves: { step: number; loss: number; optimizer: string }[];
} {
  const n = 100;
  const model: Model = {
    a: Array.from({ length: n }, (_, i) => 1 / (i + 1)),
    sigma: Array.from({ length: n }, (_, i) => Math.sqrt(1 / (i + 1))),
    x0: Array.from({ length: n }, () => 1),
  };
  const k = 5;
  const gammaLa = 1;
  const rows: Figure3Row[] = [];
  let curves: { step: number; loss: number; optimizer: string }[] = [];
  for (const alpha of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]) {
    const risk = steadyRisk(model, (a, sigma) => varianceLookahead({ a, sigma, gamma: gammaLa, k, alpha }));
    // The SGD risk grows with the learning rate: bisect for the one that matches.
    let lo = 1e-6;
    let hi = 1.999;
    for (let it = 0; it < 100; it++) {
      const mid = (lo + hi) / 2;
      if (steadyRisk(model, (a, sigma) => varianceSgd({ a, sigma, gamma: mid, k, alpha })) < risk) lo = mid;
      else hi = mid;
    }
    const gammaSgd = (lo + hi) / 2;
    const sgdLoss = expectedLossSgd(model, gammaSgd, steps);
    const laLoss = expectedLossLookahead(model, gammaLa, k, alpha, steps / k);
    rows.push({
      alpha,
      steadyStateRisk: risk,
      gammaLookahead: gammaLa,
      gammaSgd,
      lossSgd: sgdLoss.at(-1)!,
      lossLookahead: laLoss.at(-1)!,
      lossSgdEarly: sgdLoss[steps / 10 - 1]!,
      lossLookaheadEarly: laLoss[steps / 10 / k - 1]!,
    });
    if (alpha === 0.5)
      curves = [
        ...sgdLoss.map((loss, t) => ({ step: t + 1, loss, optimizer: `SGD (lr ${gammaSgd.toFixed(3)})` })),
        ...laLoss.map((loss, t) => ({ step: (t + 1) * k, loss, optimizer: "Lookahead (lr 1, k 5, alpha 0.5)" })),
      ];
  }
  return { rows, curves };
}
