/** The catalogue as one table: every optimizer gradtx ships, for the tests that run over all of them. */
import { readFileSync } from "node:fs";
import {
  adabelief,
  adafactor,
  adadelta,
  adagrad,
  adamaxw,
  ademamix,
  adan,
  lbfgs,
  scaleByBacktrackingLinesearch,
  adopt,
  fromage,
  lars,
  nadamw,
  noisySgd,
  normalizeByUpdateNorm,
  novograd,
  optimisticAdam,
  optimisticGradientDescent,
  polyakSgd,
  rprop,
  signSgd,
  signum,
  sm3,
  yogi,
  adam,
  adamax,
  adamw,
  adaptiveGradClip,
  amsgrad,
  applyIfFinite,
  centralize,
  chain,
  clip,
  clipByBlockRms,
  clipByGlobalNorm,
  ema,
  injectHyperparams,
  lamb,
  lion,
  lookahead,
  masked,
  multiSteps,
  multiTransform,
  muon,
  nadam,
  reduceOnPlateau,
  radam,
  ranger,
  rmsprop,
  sam,
  sgd,
  tree,
  zeroNans,
  cocob,
  dadaptAdamw,
  dog,
  dowg,
  prodigy,
  mechanize,
  scheduleFreeAdamw,
  scheduleFreeSgd,
  scaleByDistanceOverGradients,
  freeze,
  statelessWithTreeMap,
  applyEvery,
  namedChain,
  conditionallyMask,
  conditionallyTransform,
  scale,
  snapshot,
  monitor,
  type ExtraArgs,
  type GradientTransformation,
  type PyTree,
} from "../src/index.js";

export interface Entry {
  readonly name: string;
  /** Built from a learning rate. */
  readonly make: (learningRate: number) => GradientTransformation;
  /** A learning rate that converges on the quadratic below within 300 steps. */
  readonly lr: number;
  /** Built with nothing but its documented defaults and learning rate 0.1 where one is required. */
  readonly defaults: () => GradientTransformation;
  /**
   * Why the "alpha = 1 follows the inner optimizer" law does not apply, if it does not: the law
   * holds within roundings, so it needs an optimizer continuous in the params.
   */
  readonly notContinuous?: string;
  /**
   * The first step of `defaults()` on f(x) = sum(x^2), worked out by hand from the optimizer's
   * documented formula: the params after it, from params `x` and gradient `g = 2x` (one leaf).
   */
  readonly firstStep: (x: readonly number[], g: readonly number[]) => number[];
  /** Why the first step leaves the params where they are, for the one optimizer whose does. */
  readonly firstStepStandsStill?: string;
  /**
   * Why "finite in, finite out" does not hold, where it does not: a trust ratio ||p|| / ||u||
   * overflows when the update is subnormal, in optax as here (the laws' fuzz draws such grads).
   */
  readonly overflows?: string;
  /**
   * For an optimizer whose update needs extra arguments: them, from the params the update is given
   * (a loss of the params: any deterministic function of them will do for the laws).
   */
  readonly extra?: (params: PyTree) => ExtraArgs;
  /**
   * Why the laws run this entry over problems whose tiny elements (below 1e-8 in magnitude) are
   * 0, where they must: L-BFGS's weights 1 / <du, dw> come from differences of the params and
   * grads, and the laws' subnormal ones make its direction overflow, in optax as here.
   */
  readonly flushesTiny?: string;
}

/** Adam's (and AMSGrad's, Adamax's) first step at learning rate `lr`: m^ = g, v^ = g^2, so -lr g / (|g| + eps). */
const adamFirst =
  (lr: number, eps = 1e-8) =>
  (x: readonly number[], g: readonly number[]) =>
    x.map((v, i) => v - (lr * g[i]!) / (Math.abs(g[i]!) + eps));
/** Plain gradient descent: x - lr g. */
const descent = (lr: number) => (x: readonly number[], g: readonly number[]) => x.map((v, i) => v - lr * g[i]!);
const norm = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
/** The first three normals of addNoise with seed 0 at step 0, from test/fixtures/noise.json. */
const noiseFirstStep = (
  JSON.parse(readFileSync(new URL("fixtures/noise.json", import.meta.url), "utf8")) as {
    readonly noisySgdFirstStep: { readonly normals: readonly number[] };
  }
).noisySgdFirstStep.normals;

export const catalogue: readonly Entry[] = [
  { name: "sgd", make: (lr) => sgd(lr), lr: 0.2, defaults: () => sgd(0.1), firstStep: descent(0.1) },
  {
    name: "sgd momentum",
    make: (lr) => sgd(lr, { momentum: 0.9 }),
    lr: 0.05,
    defaults: () => sgd(0.1, { momentum: 0.9 }),
    // The trace starts at 0, so trace' = g.
    firstStep: descent(0.1),
  },
  {
    name: "sgd nesterov",
    make: (lr) => sgd(lr, { momentum: 0.9, nesterov: true }),
    lr: 0.05,
    defaults: () => sgd(0.1, { momentum: 0.9, nesterov: true }),
    // trace' = g, and Nesterov's update is g + 0.9 trace' = 1.9 g.
    firstStep: descent(0.1 * 1.9),
  },
  { name: "adam", make: (lr) => adam(lr), lr: 0.05, defaults: () => adam(0.1), firstStep: adamFirst(0.1) },
  {
    name: "adamw",
    make: (lr) => adamw(lr),
    lr: 0.05,
    defaults: () => adamw(0.1),
    // Adam's step plus the decoupled decay 1e-4 x, both times the learning rate.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * (g[i]! / (Math.abs(g[i]!) + 1e-8) + 1e-4 * v)),
  },
  {
    name: "nadam",
    make: (lr) => nadam(lr),
    lr: 0.05,
    defaults: () => nadam(0.1),
    // m^ = b1 m / (1 - b1^2) + (1 - b1) g / (1 - b1) with m = 0.1 g: (0.09 / 0.19 + 1) g; v^ = g^2.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * (0.09 / 0.19 + 1) * g[i]!) / (Math.abs(g[i]!) + 1e-8)),
  },
  {
    name: "radam",
    make: (lr) => radam(lr),
    lr: 0.05,
    defaults: () => radam(0.1),
    // Step 1: rho = 1 < 5, so the update is the corrected momentum m^ = g, not rescaled.
    firstStep: descent(0.1),
  },
  {
    name: "adamax",
    make: (lr) => adamax(lr),
    lr: 0.05,
    defaults: () => adamax(0.1),
    // (m / (1 - b1)) / max(b2 nu, |g| + eps) = g / (|g| + eps).
    firstStep: adamFirst(0.1),
  },
  { name: "amsgrad", make: (lr) => amsgrad(lr), lr: 0.05, defaults: () => amsgrad(0.1), firstStep: adamFirst(0.1) },
  {
    name: "rmsprop",
    make: (lr) => rmsprop(lr),
    lr: 0.02,
    defaults: () => rmsprop(0.1),
    // nu = 0.1 g^2 (decay 0.9), eps 1e-8 inside the root.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / Math.sqrt(0.1 * g[i]! ** 2 + 1e-8)),
  },
  {
    name: "rmsprop centered momentum",
    make: (lr) => rmsprop(lr, { centered: true, momentum: 0.5 }),
    lr: 0.01,
    defaults: () => rmsprop(0.1, { centered: true }),
    // mu = 0.1 g, nu = 0.1 g^2: the variance is 0.1 g^2 - 0.01 g^2 = 0.09 g^2.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / Math.sqrt(0.09 * g[i]! ** 2 + 1e-8)),
  },
  {
    name: "adagrad",
    make: (lr) => adagrad(lr),
    lr: 0.5,
    defaults: () => adagrad(0.1),
    // The sum of squares starts at 0.1: s = 0.1 + g^2, eps 1e-7 inside the root.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / Math.sqrt(0.1 + g[i]! ** 2 + 1e-7)),
  },
  {
    name: "adadelta",
    make: (lr) => adadelta(lr),
    lr: 10,
    defaults: () => adadelta(),
    // Learning rate 1: eG = 0.1 g^2, u = sqrt(0 + 1e-6) / sqrt(eG + 1e-6) g.
    firstStep: (x, g) => x.map((v, i) => v - (Math.sqrt(1e-6) / Math.sqrt(0.1 * g[i]! ** 2 + 1e-6)) * g[i]!),
  },
  {
    name: "lion",
    make: (lr) => lion(lr),
    lr: 0.03,
    defaults: () => lion(0.1),
    // sign((1 - b1) g + b1 0) = sign(g), plus the decoupled decay 1e-3 x.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * (Math.sign(g[i]!) + 1e-3 * v)),
  },
  {
    name: "lamb",
    overflows: "its trust ratio ||p|| / ||u|| is Infinity for a subnormal u (a grad of 7e-45 in float32)",
    make: (lr) => lamb(lr),
    lr: 0.02,
    defaults: () => lamb(0.1),
    // Adam with eps 1e-6 gives r = g / (|g| + 1e-6); the leaf's trust ratio is ||x|| / ||r||.
    firstStep: (x, g) => {
      const r = g.map((gi) => gi / (Math.abs(gi) + 1e-6));
      return x.map((v, i) => v - 0.1 * (norm(x) / norm(r)) * r[i]!);
    },
    // optax's trust ratio is 1 where a leaf's param norm is exactly 0 and ||p|| / ||u|| next to it,
    // so a param an ulp away from 0 can take a step 1e150 times larger or smaller.
    notContinuous: "the trust ratio jumps at a zero param norm",
  },
  {
    name: "ranger",
    make: (lr) => ranger(lr),
    lr: 0.1,
    defaults: () => ranger(),
    // RAdam's first step is its momentum (learning rate 1e-3), and step 1 of 6 is no sync.
    firstStep: descent(1e-3),
  },
  {
    name: "lookahead(adam)",
    make: (lr) => lookahead(adam(lr)),
    lr: 0.05,
    defaults: () => lookahead(adam(0.1)),
    // Step 1 of 5 is no sync: Adam's step.
    firstStep: adamFirst(0.1),
  },
  {
    name: "chain(clipByGlobalNorm, lookahead(adam))",
    make: (lr) => chain(clipByGlobalNorm(1), lookahead(adam(lr))),
    lr: 0.05,
    defaults: () => chain(clipByGlobalNorm(1), lookahead(adam(0.1))),
    // The clip gives c = g / ||g||, and Adam's first step is -0.1 c / (|c| + eps).
    firstStep: (x, g) =>
      adamFirst(0.1)(
        x,
        g.map((gi) => gi / norm(g)),
      ),
  },
  {
    name: "chain(clip, clipByBlockRms, zeroNans, ema, sgd)",
    make: (lr) => chain(clip(10), clipByBlockRms(10), zeroNans(), ema(0.5), sgd(lr)),
    lr: 0.1,
    defaults: () => chain(clip(10), clipByBlockRms(10), zeroNans(), ema(0.5), sgd(0.1)),
    // |g| <= 6 and rms(g) = sqrt(56 / 3) < 10 pass the clips; the debiased ema of one g is g.
    firstStep: descent(0.1),
  },
  {
    name: "masked(adam) + multiTransform",
    make: (lr) =>
      multiTransform({ a: masked(adam(lr), true), s: sgd(lr) }, (path) => (path.length % 2 === 0 ? "a" : "s")),
    lr: 0.05,
    defaults: () => multiTransform({ a: adam(0.1), s: sgd(0.1) }, (path) => (path.length % 2 === 0 ? "a" : "s")),
    // One leaf at the root has the path "", of even length: it goes to adam.
    firstStep: adamFirst(0.1),
  },
  {
    name: "injectHyperparams(adam)",
    make: (lr) => injectHyperparams((h) => adam(h.lr), { lr }),
    lr: 0.05,
    defaults: () => injectHyperparams((h) => adam(h.lr), { lr: 0.1 }),
    firstStep: adamFirst(0.1),
  },
  {
    name: "applyIfFinite(adam)",
    make: (lr) => applyIfFinite(adam(lr), 3),
    lr: 0.05,
    defaults: () => applyIfFinite(adam(0.1), 3),
    firstStep: adamFirst(0.1),
  },
  {
    name: "multiSteps(sgd, 1)",
    make: (lr) => multiSteps(sgd(lr), 1),
    lr: 0.2,
    defaults: () => multiSteps(sgd(0.1), 1),
    firstStep: descent(0.1),
  },
  // The optimizers of optax's second wave (issue 11). Each first step is worked out from optax's
  // formulas for g = 2x, learning rate 0.1, one leaf.
  {
    name: "adabelief",
    make: (lr) => adabelief(lr),
    lr: 0.05,
    defaults: () => adabelief(0.1),
    // mu = 0.1 g, so g - mu = 0.9 g and nu = 0.001 (0.9 g)^2 + 1e-16; corrected: m^ = g and
    // s^ = 0.81 g^2 + 1e-13, so the step is 0.1 g / (sqrt(0.81 g^2 + 1e-13) + 1e-16).
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / (Math.sqrt(0.81 * g[i]! ** 2 + 1e-13) + 1e-16)),
  },
  {
    name: "yogi",
    make: (lr) => yogi(lr),
    lr: 0.05,
    defaults: () => yogi(0.1),
    // Both moments start at 1e-6: mu = 0.1 g + 0.9e-6; nu = 1e-6 < g^2, so it grows by 0.001 g^2.
    // Corrected by 1 - 0.9 and 1 - 0.999, with eps 1e-3 outside the root.
    firstStep: (x, g) =>
      x.map((v, i) => {
        const mHat = (0.1 * g[i]! + 0.9 * 1e-6) / 0.1;
        const vHat = (1e-6 + 0.001 * g[i]! ** 2) / 0.001;
        return v - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-3);
      }),
  },
  {
    name: "adan",
    make: (lr) => adan(lr),
    lr: 0.1,
    defaults: () => adan(0.1),
    // Step 1 has no gradient difference: m^ = g, v^ = 0, n^ = g^2; epsRoot 1e-8 under the root.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / (Math.sqrt(g[i]! ** 2 + 1e-8) + 1e-8)),
  },
  {
    name: "novograd",
    make: (lr) => novograd(lr),
    lr: 0.01,
    defaults: () => novograd(0.1),
    // The first nu is the leaf's squared norm, sum(g^2); mu = g / (sqrt(nu) + 1e-6).
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * g[i]!) / (norm(g) + 1e-6)),
  },
  {
    name: "rprop",
    make: (lr) => rprop(lr),
    lr: 0.05,
    defaults: () => rprop(0.1),
    // No previous step: every step size is the initial 0.1, against the gradient's sign.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * Math.sign(g[i]!)),
  },
  {
    name: "signSgd",
    make: (lr) => signSgd(lr),
    lr: 0.01,
    defaults: () => signSgd(0.1),
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * Math.sign(g[i]!)),
  },
  {
    name: "signum",
    make: (lr) => signum(lr),
    lr: 0.01,
    defaults: () => signum(0.1),
    // The undebiased average is 0.1 g, of g's sign.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * Math.sign(g[i]!)),
  },
  {
    name: "lars",
    // With eps 0 (the default) a subnormal gradient norm makes the ratio overflow float32 and
    // the update NaN, in optax as here: the laws' fuzz finds it, so the table adds a small eps.
    make: (lr) => lars(lr, { eps: 1e-8 }),
    lr: 3,
    defaults: () => lars(0.1),
    // No decay; the trust ratio is 0.001 ||x|| / ||g||, and the trace starts at 0.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * ((0.001 * norm(x)) / norm(g)) * g[i]!),
    notContinuous: "the trust ratio jumps at a zero param norm",
  },
  {
    name: "fromage",
    overflows: "its trust ratio ||p|| / ||g|| is Infinity for a subnormal gradient",
    make: (lr) => fromage(lr),
    lr: 0.05,
    defaults: () => fromage(0.1),
    // c = 1 / sqrt(1 + 0.01); the trust ratio makes r = (||x|| / ||g||) g; p' = c (p - 0.1 r).
    firstStep: (x, g) => x.map((v, i) => (v - 0.1 * (norm(x) / norm(g)) * g[i]!) / Math.sqrt(1.01)),
  },
  {
    name: "adamaxw",
    make: (lr) => adamaxw(lr),
    lr: 0.05,
    defaults: () => adamaxw(0.1),
    // Adamax's step g / (|g| + eps), plus the decay 1e-4 x, both times the learning rate.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * (g[i]! / (Math.abs(g[i]!) + 1e-8) + 1e-4 * v)),
  },
  {
    name: "nadamw",
    make: (lr) => nadamw(lr),
    lr: 0.05,
    defaults: () => nadamw(0.1),
    // NAdam's (0.09 / 0.19 + 1) g / (|g| + eps), plus the decay 1e-4 x.
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * (((0.09 / 0.19 + 1) * g[i]!) / (Math.abs(g[i]!) + 1e-8) + 1e-4 * v)),
  },
  {
    name: "optimisticGradientDescent",
    make: (lr) => optimisticGradientDescent(lr),
    lr: 0.05,
    defaults: () => optimisticGradientDescent(0.1),
    // The first step has no previous gradient: (1 + 1) g - 1 g = g.
    firstStep: descent(0.1),
  },
  {
    name: "optimisticAdam",
    make: (lr) => optimisticAdam(lr),
    lr: 0.05,
    defaults: () => optimisticAdam(0.1),
    // Nesterov Adam's first r = (0.09 / 0.19 + 1) g / (|g| + eps); optimism's first step is r.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * (0.09 / 0.19 + 1) * g[i]!) / (Math.abs(g[i]!) + 1e-8)),
  },
  {
    name: "adopt",
    make: (lr) => adopt(lr),
    lr: 0.05,
    defaults: () => adopt(0.1),
    // The first step only measures g^2: b1 is taken as 1, so mu stays 0.
    firstStep: (x) => [...x],
    firstStepStandsStill: "ADOPT's first step only fills its second moment (optax's doctest shows the loss unmoved)",
  },
  {
    name: "ademamix",
    make: (lr) => ademamix(lr),
    lr: 0.1,
    defaults: () => ademamix(0.1),
    // m1^ = g, m2 = (1 - 0.9999) g (not corrected), nu^ = g^2, alpha 5.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * (g[i]! + 5 * (1 - 0.9999) * g[i]!)) / (Math.abs(g[i]!) + 1e-8)),
  },
  {
    name: "chain(scaleByDistanceOverGradients, scale(-lr))",
    make: (lr) => chain(scaleByDistanceOverGradients(), scale(-lr)),
    lr: 1,
    defaults: () => chain(scaleByDistanceOverGradients(), scale(-0.1)),
    // One leaf, the params not moved: r = 1e-6 (1 + ||x||), G = ||g||^2, u = -0.1 r / sqrt(G + 1e-8) g.
    firstStep: (x, g) => x.map((v, i) => v - ((0.1 * 1e-6 * (1 + norm(x))) / Math.sqrt(norm(g) ** 2 + 1e-8)) * g[i]!),
  },
  // optax.contrib's parameter-free optimizers: learning rate 1 (a multiplier) is their default.
  {
    name: "dog",
    make: (lr) => dog(lr),
    lr: 1,
    defaults: () => dog(),
    // The params have not moved: r = 1e-6 (1 + ||x0||), G = ||g||^2, so eta = r / sqrt(G + 1e-8).
    firstStep: (x, g) => x.map((v, i) => v - ((1e-6 * (1 + norm(x))) / Math.sqrt(norm(g) ** 2 + 1e-8)) * g[i]!),
  },
  {
    name: "dowg",
    make: (lr) => dowg(lr),
    lr: 1,
    defaults: () => dowg(),
    // d2 = eps = 1e-4, W = 1e-4 ||g||^2, eta = 1e-4 / (sqrt(W) + 1e-4).
    firstStep: (x, g) => x.map((v, i) => v - (1e-4 / (Math.sqrt(1e-4 * norm(g) ** 2) + 1e-4)) * g[i]!),
  },
  {
    name: "cocob",
    make: (lr) => cocob(lr),
    lr: 1,
    defaults: () => cocob(),
    // L = max(1e-8, |g|), G = |g|, R = 0, theta = -g: p' = p0 - g / (L max(G + L, 100 L)) L.
    firstStep: (x, g) =>
      x.map((v, i) => {
        const L = Math.max(1e-8, Math.abs(g[i]!));
        return v + (-g[i]! / (L * Math.max(Math.abs(g[i]!) + L, 100 * L))) * L;
      }),
  },
  {
    name: "prodigy",
    make: (lr) => prodigy(lr),
    lr: 1,
    defaults: () => prodigy(),
    // d = 1e-6, dlr = d sqrt(0.001) / 0.1; dg = d g, m = 0.1 dg, v = 0.001 dg^2; the estimate
    // stays d (the params have not moved), so u = -dlr m / (sqrt(v) + d 1e-8).
    firstStep: (x, g) =>
      x.map((v, i) => {
        const dlr = (1e-6 * Math.sqrt(0.001)) / 0.1;
        const dg = 1e-6 * g[i]!;
        return v - (dlr * 0.1 * dg) / (Math.sqrt(0.001 * dg * dg) + 1e-14);
      }),
  },
  {
    name: "dadaptAdamw",
    make: (lr) => dadaptAdamw(lr),
    lr: 1,
    defaults: () => dadaptAdamw(),
    // dlr = 1e-6 sqrt(0.001) / 0.1, m = 0.1 dlr g, v = 0.001 g^2: u = -m / (sqrt(v) + 1e-8).
    firstStep: (x, g) =>
      x.map((v, i) => v - (0.1 * ((1e-6 * Math.sqrt(0.001)) / 0.1) * g[i]!) / (Math.sqrt(0.001 * g[i]! ** 2) + 1e-8)),
  },
  // Schedule-free's params are the interpolation y, where gradients are taken (the average x
  // to evaluate is scheduleFreeEvalParams'); y converges too.
  {
    name: "scheduleFreeSgd",
    make: (lr) => scheduleFreeSgd(lr),
    lr: 0.5,
    defaults: () => scheduleFreeSgd(),
    // z' = x - g; the first averaging weight is 1, so the average is z' and so is y' = 0.9 z' + 0.1 z'.
    firstStep: (x, g) => x.map((v, i) => v - g[i]!),
  },
  {
    name: "scheduleFreeAdamw",
    make: (lr) => scheduleFreeAdamw(lr),
    lr: 0.1,
    defaults: () => scheduleFreeAdamw(),
    // The base step is -0.0025 g / (|g| + 1e-8) (the corrected second moment is g^2); y' = z'.
    firstStep: (x, g) => x.map((v, i) => v - (0.0025 * g[i]!) / (Math.abs(g[i]!) + 1e-8)),
  },
  {
    name: "mechanize(sgd)",
    make: (lr) => mechanize(sgd(lr)),
    lr: 1,
    defaults: () => mechanize(sgd(0.1)),
    // At x0, h = 0: each of the 6 scales is 1e-6 / 6, so the step is 1e-6 times sgd's.
    firstStep: (x, g) => x.map((v, i) => v - 1e-7 * g[i]!),
  },
  // The combinators ported from optax's combine, wrappers, freezing, conditionality and
  // monitoring modules, around sgd (learning rate 0.1 in the first steps).
  {
    name: "chain(freeze(false), statelessWithTreeMap, sgd)",
    make: (lr) =>
      chain(
        freeze(false),
        statelessWithTreeMap((u) => tree.scale(0.5, u)),
        sgd(lr),
      ),
    lr: 0.4,
    defaults: () =>
      chain(
        freeze(false),
        statelessWithTreeMap((u) => tree.scale(0.5, u)),
        sgd(0.1),
      ),
    // freeze(false) passes g through; the callback halves it: x - 0.1 (0.5 g).
    firstStep: descent(0.05),
  },
  {
    name: "chain(applyEvery(2), sgd)",
    make: (lr) => chain(applyEvery(2), sgd(lr)),
    lr: 0.1,
    defaults: () => chain(applyEvery(2), sgd(0.1)),
    // Step 1 of each round of 2 only accumulates: the update is 0.
    firstStep: (x) => [...x],
    firstStepStandsStill: "applyEvery(2) emits zeros on the first step of each round and the sum on the second",
  },
  {
    name: "namedChain(clip, adam)",
    make: (lr) => namedChain(["clip", clipByGlobalNorm(1)], ["adam", adam(lr)]),
    lr: 0.05,
    defaults: () => namedChain(["clip", clipByGlobalNorm(1)], ["adam", adam(0.1)]),
    // As chain(clipByGlobalNorm(1), adam): c = g / ||g||, then -0.1 c / (|c| + eps).
    firstStep: (x, g) =>
      adamFirst(0.1)(
        x,
        g.map((gi) => gi / norm(g)),
      ),
  },
  {
    name: "chain(conditionallyTransform(scale), conditionallyMask(sgd))",
    make: (lr) =>
      chain(
        conditionallyTransform(scale(0.5), (step) => step % 2 === 0),
        conditionallyMask(sgd(lr), (step) => step % 3 !== 2),
      ),
    lr: 0.2,
    defaults: () =>
      chain(
        conditionallyTransform(scale(0.5), (step) => step % 2 === 0),
        conditionallyMask(sgd(0.1), (step) => step % 3 !== 2),
      ),
    // Step 0 runs both: the halving, then sgd: x - 0.1 (0.5 g).
    firstStep: descent(0.05),
  },
  {
    name: "chain(sgd, snapshot)",
    make: (lr) =>
      chain(
        sgd(lr),
        snapshot("norm", (u) => tree.norm(u)),
      ),
    lr: 0.2,
    defaults: () =>
      chain(
        sgd(0.1),
        snapshot("norm", (u) => tree.norm(u)),
      ),
    // The snapshot only records: sgd's step.
    firstStep: descent(0.1),
  },
  {
    name: "chain(sgd, monitor)",
    make: (lr) => chain(sgd(lr), monitor({ norm: (u) => tree.norm(u), average: ema(0.9) })),
    lr: 0.2,
    defaults: () => chain(sgd(0.1), monitor({ norm: (u) => tree.norm(u), average: ema(0.9) })),
    // The monitor only records: sgd's step.
    firstStep: descent(0.1),
  },
  {
    name: "noisySgd",
    make: (lr) => noisySgd(lr, { seed: 3 }),
    lr: 0.2,
    defaults: () => noisySgd(0.1),
    // x - 0.1 (g + sqrt(0.01) z), z the standard normals of seed 0, step 0, worked out
    // independently in Python (test/fixtures/noise.py, its numbers in noise.json).
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * (g[i]! + 0.1 * noiseFirstStep[i]!)),
  },
  {
    name: "chain(adaptiveGradClip, sgd)",
    make: (lr) => chain(adaptiveGradClip(1), sgd(lr)),
    lr: 0.2,
    defaults: () => chain(adaptiveGradClip(1), sgd(0.1)),
    // One leaf, one unit: ||g|| = 2 ||x|| > 1 * ||x||, so g is cut to norm ||x||: g / 2 = x.
    firstStep: (x) => x.map((v) => v - 0.1 * v),
  },
  {
    name: "sam(sgd, normalized sgd)",
    make: (lr) => sam(sgd(lr), chain(normalizeByUpdateNorm(), sgd(0.05))),
    lr: 0.2,
    defaults: () => sam(sgd(0.1), chain(normalizeByUpdateNorm(), sgd(0.05))),
    // The first step of a round is adversarial: up the loss by 0.05 g / (||g|| + 1e-6).
    firstStep: (x, g) => x.map((v, i) => v + (0.05 * g[i]!) / (norm(g) + 1e-6)),
  },
  // The transformations that read a leaf's shape. The catalogue's leaves are mostly vectors (not
  // factored); the random trees of the catalogue-wide tests hold 2-D ndarrays too, which
  // minDimSizeToFactor 2 factors and Muon orthogonalizes.
  {
    name: "adafactor (factored from 2, momentum 0.5)",
    make: (lr) => adafactor(lr, { minDimSizeToFactor: 2, momentum: 0.5 }),
    lr: 0.1,
    defaults: () => adafactor(0.1),
    // A vector: v = g^2 + 1e-30 at decay 0, so u = g / sqrt(g^2 + 1e-30); its rms 1 passes the
    // clip; the step is 0.1 rms(x) u, rms(x) = sqrt(14 / 3).
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * Math.sqrt(14 / 3) * (g[i]! / Math.sqrt(g[i]! ** 2 + 1e-30))),
  },
  {
    name: "sm3",
    make: (lr) => sm3(lr),
    lr: 1,
    defaults: () => sm3(0.1),
    // The accumulators start at 0: accum = g^2, nu = (1 - 0.9) g / sqrt(g^2 + 1e-8).
    firstStep: (x, g) => x.map((v, i) => v - 0.1 * 0.1 * (g[i]! / Math.sqrt(g[i]! ** 2 + 1e-8))),
  },
  {
    name: "chain(centralize, sgd)",
    make: (lr) => chain(centralize(), sgd(lr)),
    lr: 0.2,
    defaults: () => chain(centralize(), sgd(0.1)),
    // A vector is not centralized: SGD's step.
    firstStep: descent(0.1),
  },
  {
    name: "muon",
    make: (lr) => muon(lr, { weightDecay: 0.01 }),
    lr: 0.05,
    defaults: () => muon(0.1),
    // A vector goes to AdamW with Nesterov momentum (weight decay 0): NAdam's first step,
    // (0.09 / 0.19 + 1) g / (|g| + eps). The random trees' 2-D ndarrays take Muon's.
    firstStep: (x, g) => x.map((v, i) => v - (0.1 * (0.09 / 0.19 + 1) * g[i]!) / (Math.abs(g[i]!) + 1e-8)),
  },
];

/** A loss for the entries that need one: the sum of squares of the params. */
const sumOfSquares = (params: PyTree): ExtraArgs => ({ value: tree.vdot(params, params) });

/** What a line search reads, for f(x) = sum(x^2): the loss and its gradient, at the params and as functions. */
const lineSearchArgs = (params: PyTree): ExtraArgs => ({
  value: tree.vdot(params, params),
  grad: tree.scale(2, params),
  valueFn: (p) => tree.vdot(p, p),
  gradFn: (p) => tree.scale(2, p),
});

/** The entries whose update needs extra arguments, which the tables that take them run. */
export const needsExtra: readonly Entry[] = [
  {
    name: "chain(sgd, reduceOnPlateau)",
    make: (lr) => chain(sgd(lr), reduceOnPlateau({ factor: 0.5, patience: 2 })),
    lr: 0.2,
    defaults: () => chain(sgd(0.1), reduceOnPlateau()),
    // The first loss improves on Infinity, and the scale starts at 1: SGD's step.
    firstStep: descent(0.1),
    extra: sumOfSquares,
  },
  {
    name: "polyakSgd",
    make: (lr) => polyakSgd({ maxLearningRate: lr }),
    lr: 0.5,
    defaults: () => polyakSgd(),
    // The step is f / ||g||^2 = sum(x^2) / sum(4 x^2) = 1/4 (below maxLearningRate 1): x - g / 4 = x / 2.
    firstStep: (x) => x.map((v) => v / 2),
    extra: sumOfSquares,
  },
  {
    name: "lbfgs",
    flushesTiny: "subnormal differences make the direction overflow float32 (see the field)",
    // Seen at seed -45746114: from zero params, five grads of about -10 in one coordinate or
    // another, where the loss the line search sees is sum(p^2). Each direction climbs it, so the
    // zoom search fails after its 20 steps and takes the last step it tried, as optax's does
    // (no step gave a sufficient decrease), and the curvature pairs of grads that no function has
    // grow the direction until a float32 param of 1.5e20 squares past float32's range.
    overflows:
      "grads that are not the line search's loss's make its failed steps grow the direction until float32 overflows",
    make: (lr) => lbfgs({ learningRate: lr }),
    lr: 1,
    defaults: () => lbfgs(),
    // gamma_0 = min(1, 1 / ||g||) and the zoom line search's first guess, 1, meets both Wolfe
    // conditions on sum(x^2) from [1, 2, 3] (slope -||g|| at 0, -0.73 ||g|| at 1): x - g / ||g||.
    firstStep: (x, g) => x.map((v, i) => v - g[i]! / norm(g)),
    notContinuous: "the line search branches on its conditions",
    extra: lineSearchArgs,
  },
  {
    name: "lbfgs with a backtracking line search",
    flushesTiny: "subnormal differences make the direction overflow float32 (see the field)",
    make: (lr) =>
      lbfgs({
        learningRate: lr,
        linesearch: scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15, storeGrad: true }),
      }),
    lr: 1,
    defaults: () => lbfgs({ linesearch: scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15 }) }),
    // The first guess, min(1.5 * 1, 1) = 1, decreases sum(x^2) enough: x - g / ||g||, as above.
    firstStep: (x, g) => x.map((v, i) => v - g[i]! / norm(g)),
    notContinuous: "the line search branches on its condition",
    extra: lineSearchArgs,
  },
];

/**
 * An entry whose optimizers take their extra arguments from the params when the caller gives
 * none: what a table that calls `update(g, s, p)` can run. The real optimizer runs inside (an
 * opaque part, where it is nested in another).
 */
export function supplyingExtra(entry: Entry): Entry {
  const extra = entry.extra;
  if (extra === undefined) return entry;
  const wrap = (tx: GradientTransformation): GradientTransformation => ({
    init: (params) => tx.init(params),
    update: (updates, state, params, given) =>
      tx.update(updates, state, params, given ?? extra((params ?? updates) as PyTree)),
  });
  return { ...entry, make: (lr) => wrap(entry.make(lr)), defaults: () => wrap(entry.defaults()) };
}

/** Every entry, those that need extra arguments included, for the laws, hostile input and checkpoints. */
export const everyEntry: readonly Entry[] = [...catalogue, ...needsExtra.map(supplyingExtra)];
