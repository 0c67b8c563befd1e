// What the playground computes, with whichever build of gradtx it is handed: the page passes
// the bundled package, the browser test passes Node's, and both must give the same points.
// Everything here is exact arithmetic (+ - * /), so that the points do not depend on the
// JavaScript engine: no Math.sin or Math.log on the path from settings to points.

/** A seeded generator of numbers in [0, 1) (mulberry32), exact on every engine. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The 2-D problems: a loss, its gradient, where to start, the steps to run and the view. */
export const PROBLEMS = {
  quadratic: {
    label: "ill-conditioned quadratic (condition number 50)",
    // f = (u^2 + 50 v^2) / 2 in axes turned by the 3-4-5 triangle: u = 0.8x + 0.6y, v = -0.6x + 0.8y.
    loss: ([x, y]) => {
      const u = 0.8 * x + 0.6 * y;
      const v = -0.6 * x + 0.8 * y;
      return (u * u + 50 * v * v) / 2;
    },
    grad: ([x, y]) => {
      const u = 0.8 * x + 0.6 * y;
      const v = 50 * (-0.6 * x + 0.8 * y);
      return [0.8 * u - 0.6 * v, 0.6 * u + 0.8 * v];
    },
    start: [-4, 2.5],
    steps: 120,
    lr: { min: 0.002, max: 0.06, value: 0.045 },
    view: { x: [-5, 5], y: [-4, 4] },
  },
  rosenbrock: {
    label: "Rosenbrock's valley",
    loss: ([x, y]) => (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x),
    grad: ([x, y]) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    start: [-1.5, 2],
    steps: 400,
    lr: { min: 0.0001, max: 0.002, value: 0.0015 },
    view: { x: [-2, 2], y: [-1, 3] },
  },
  noisy: {
    label: "noisy quadratic (seeded gradient noise)",
    loss: ([x, y]) => (x * x + 10 * y * y) / 2,
    // The exact gradient plus noise of spread 1 in each coordinate: a sum of four uniforms.
    grad: ([x, y], random) => {
      const noise = () => (random() + random() + random() + random() - 2) * 1.7;
      return [x + noise(), 10 * y + noise()];
    },
    start: [-4, 2.5],
    steps: 150,
    lr: { min: 0.005, max: 0.15, value: 0.08 },
    view: { x: [-5, 5], y: [-4, 4] },
    seed: 2019,
  },
};

/** The settings a page starts with. */
export const DEFAULTS = {
  problem: "quadratic",
  learningRate: PROBLEMS.quadratic.lr.value,
  momentum: 0.9,
  syncPeriod: 5,
  alpha: 0.5,
  innerState: "keep",
};

/** Runs `tx` from the problem's start: the points after each step and the state after each. */
function trajectory(g, problem, tx, onStep) {
  let params = { w: Float64Array.from(problem.start) };
  let state = tx.init(params);
  const random = generator(problem.seed ?? 1);
  const points = [Array.from(params.w)];
  for (let step = 1; step <= problem.steps; step++) {
    const grads = { w: Float64Array.from(problem.grad(params.w, random)) };
    const [updates, next] = tx.update(grads, state, params);
    params = g.applyUpdates(params, updates);
    state = next;
    points.push(Array.from(params.w));
    onStep?.(step, state);
  }
  return points;
}

/**
 * The trajectories for `settings`, with gradtx module `g`: the inner optimizer alone
 * (`sgd(learningRate, { momentum })`), and Lookahead around it: its fast weights after every
 * step and its slow weights at the start and after every sync. The same noise on both runs.
 */
export function compute(g, settings) {
  const problem = PROBLEMS[settings.problem];
  const inner = () => g.sgd(settings.learningRate, { momentum: settings.momentum });
  const innerPoints = trajectory(g, problem, inner());
  const slow = [{ step: 0, point: Array.from(problem.start) }];
  const fast = trajectory(
    g,
    problem,
    g.lookahead(inner(), { syncPeriod: settings.syncPeriod, alpha: settings.alpha, innerState: settings.innerState }),
    (step, state) => {
      if (step % settings.syncPeriod === 0) slow.push({ step, point: Array.from(g.slowParams(state).w) });
    },
  );
  const loss = (points) => points.map((p) => problem.loss(p));
  return {
    settings: { ...settings },
    inner: innerPoints,
    fast,
    slow,
    loss: { inner: loss(innerPoints), fast: loss(fast), slow: slow.map((s) => problem.loss(s.point)) },
  };
}
