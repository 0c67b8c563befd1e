/**
 * Part 2: deterministic quadratic convergence (paper, Section 3.2, Figure 4).
 *
 * On a diagonal quadratic with eigenvalues in [1/condition, 1], classical momentum (heavy ball,
 * momentum fixed) and Lookahead around it (k = 20, alpha = 0.5, momentum kept across syncs) are
 * linear maps per eigenvalue. The rate `rho` (per step) is the spectral radius of the one-step
 * map, or the k-th root of the spectral radius of the k-step Lookahead map, maximized over the
 * spectrum and minimized over the learning rate. Running gradtx's own optimizers on the same
 * quadratic and fitting the decay of the distance to the optimum confirms each rate.
 */
import { applyUpdates, lookahead, sgd, slowParams, type GradientTransformation } from "gradtx";
import { progress } from "./mlp.js";

type Matrix2 = readonly [number, number, number, number]; // row-major [[m0, m1], [m2, m3]]

/** The spectral radius of a 2x2 real matrix. */
function spectralRadius([a, b, c, d]: Matrix2): number {
  const trace = a + d;
  const det = a * d - b * c;
  const disc = trace * trace - 4 * det;
  if (disc >= 0) {
    const root = Math.sqrt(disc);
    return Math.max(Math.abs((trace + root) / 2), Math.abs((trace - root) / 2));
  }
  return Math.sqrt(det); // a complex pair: both have modulus sqrt(det)
}

/** Heavy ball in optax's form on one eigenvalue: t' = lambda x + beta t, x' = x - lr t'. State (x, t). */
function momentumMap(lambda: number, lr: number, beta: number): Matrix2 {
  return [1 - lr * lambda, -lr * beta, lambda, beta];
}

/** Lookahead over k momentum steps, on the state (slow, t): the fast weights start at the slow ones. */
function lookaheadMap(lambda: number, lr: number, beta: number, k: number, alpha: number): Matrix2 {
  const column = (slow: number, trace: number): [number, number] => {
    let x = slow;
    let t = trace;
    for (let i = 0; i < k; i++) {
      t = lambda * x + beta * t;
      x -= lr * t;
    }
    return [slow + alpha * (x - slow), t];
  };
  const [a, c] = column(1, 0);
  const [b, d] = column(0, 1);
  return [a, b, c, d];
}

/**
 * The quadratic's eigenvalues: `count` log-spaced from 1 down to 1/condition. With 2 (the
 * default, the two-dimensional quadratic of a given condition number) only the extremes;
 * Lookahead's worst case over a dense spectrum is reported beside it, because its k-step map is
 * not monotone in the eigenvalue.
 */
function spectrum(condition: number, count = 2): number[] {
  return Array.from({ length: count }, (_, i) => condition ** (-i / (count - 1)));
}

/** The worst per-step rate over the spectrum at one learning rate. */
function rateAt(lambdas: number[], lr: number, beta: number, la?: { k: number; alpha: number }): number {
  let worst = 0;
  for (const lambda of lambdas) {
    const rho = la
      ? spectralRadius(lookaheadMap(lambda, lr, beta, la.k, la.alpha)) ** (1 / la.k)
      : spectralRadius(momentumMap(lambda, lr, beta));
    worst = Math.max(worst, rho);
  }
  return worst;
}

/** The best rate over learning rates (a log grid, then golden-section refinement). */
function optimalRate(lambdas: number[], beta: number, la?: { k: number; alpha: number }): { lr: number; rho: number } {
  const maxLr = (2 * (1 + beta)) / lambdas[0]!;
  let best = { lr: maxLr / 2, rho: Infinity };
  for (let i = 0; i <= 200; i++) {
    const lr = maxLr * 10 ** (-6 + (6 * i) / 200);
    const rho = rateAt(lambdas, lr, beta, la);
    if (rho < best.rho) best = { lr, rho };
  }
  let lo = best.lr / 1.08;
  let hi = Math.min(best.lr * 1.08, maxLr);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 60; it++) {
    const m1 = hi - phi * (hi - lo);
    const m2 = lo + phi * (hi - lo);
    if (rateAt(lambdas, m1, beta, la) < rateAt(lambdas, m2, beta, la)) hi = m2;
    else lo = m1;
  }
  const lr = (lo + hi) / 2;
  const rho = rateAt(lambdas, lr, beta, la);
  return rho < best.rho ? { lr, rho } : best;
}

/** Runs a gradtx optimizer on the quadratic and fits the per-step decay of the distance to 0. */
function measuredRate(
  tx: GradientTransformation,
  lambdas: number[],
  steps: number,
  every: number,
  read: (p: Float64Array, s: unknown) => Float64Array,
): number {
  let params = Float64Array.from(lambdas, () => 1);
  let state = tx.init(params);
  const points: [number, number][] = [];
  for (let t = 1; t <= steps; t++) {
    const [u, next] = tx.update(
      Float64Array.from(params, (xi, i) => lambdas[i]! * xi),
      state,
      params,
    );
    params = applyUpdates(params, u);
    state = next;
    if (t % every === 0) {
      const norm = Math.hypot(...read(params, state));
      if (norm > 1e-280) points.push([t, Math.log(norm)]);
    }
  }
  // An oscillating iterate passes near 0 now and then, so fit the envelope: the largest
  // log-norm in each of 20 chunks of the second half (after transients), by least squares.
  const tail = points.slice(Math.floor(points.length / 2));
  const chunk = Math.max(1, Math.floor(tail.length / 20));
  const peaks: [number, number][] = [];
  for (let i = 0; i < tail.length; i += chunk)
    peaks.push(tail.slice(i, i + chunk).reduce((best, p) => (p[1] > best[1] ? p : best)));
  const mt = peaks.reduce((s, [t]) => s + t, 0) / peaks.length;
  const my = peaks.reduce((s, [, y]) => s + y, 0) / peaks.length;
  const slope =
    peaks.reduce((s, [t, y]) => s + (t - mt) * (y - my), 0) / peaks.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return Math.exp(slope);
}

export interface QuadraticRow {
  readonly momentum: number;
  readonly condition: number;
  readonly rhoMomentum: number;
  readonly rhoLookahead: number;
  readonly measuredMomentum: number;
  readonly measuredLookahead: number;
  readonly lrMomentum: number;
  readonly lrLookahead: number;
  /** Lookahead's exact rate over 40 log-spaced eigenvalues instead of the two extremes. */
  readonly rhoLookaheadDense: number;
}

/** Figure 4's sweep: condition numbers 1 to 1e4, momentum 0.9 and 0.99, k 20, alpha 0.5. */
export function runQuadratic(conditions: readonly number[], steps: number): QuadraticRow[] {
  const la = { k: 20, alpha: 0.5 };
  const rows: QuadraticRow[] = [];
  const bar = progress("quadratic", conditions.length * 2);
  for (const momentum of [0.9, 0.99]) {
    for (const condition of conditions) {
      const lambdas = spectrum(condition);
      const cm = optimalRate(lambdas, momentum);
      const lk = optimalRate(lambdas, momentum, la);
      const measuredMomentum = measuredRate(sgd(cm.lr, { momentum }), lambdas, steps, 1, (p) => p);
      const measuredLookahead = measuredRate(
        lookahead(sgd(lk.lr, { momentum }), { syncPeriod: la.k, alpha: la.alpha }),
        lambdas,
        steps,
        la.k,
        (_p, s) => slowParams<Float64Array>(s),
      );
      const dense = optimalRate(spectrum(condition, 40), momentum, la).rho;
      rows.push({
        momentum,
        condition,
        rhoMomentum: cm.rho,
        rhoLookahead: lk.rho,
        measuredMomentum,
        measuredLookahead,
        lrMomentum: cm.lr,
        lrLookahead: lk.lr,
        rhoLookaheadDense: dense,
      });
      bar.tick(rows.length, `momentum ${momentum}, condition ${condition}`);
    }
  }
  bar.end();
  return rows;
}
