/** The catalogue as one table: every optimizer gradtx ships, for the tests that run over all of them. */
import {
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  amsgrad,
  applyIfFinite,
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
  nadam,
  radam,
  ranger,
  rmsprop,
  sgd,
  zeroNans,
  type GradientTransformation,
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
}

export const catalogue: readonly Entry[] = [
  { name: "sgd", make: (lr) => sgd(lr), lr: 0.2, defaults: () => sgd(0.1) },
  {
    name: "sgd momentum",
    make: (lr) => sgd(lr, { momentum: 0.9 }),
    lr: 0.05,
    defaults: () => sgd(0.1, { momentum: 0.9 }),
  },
  {
    name: "sgd nesterov",
    make: (lr) => sgd(lr, { momentum: 0.9, nesterov: true }),
    lr: 0.05,
    defaults: () => sgd(0.1, { momentum: 0.9, nesterov: true }),
  },
  { name: "adam", make: (lr) => adam(lr), lr: 0.05, defaults: () => adam(0.1) },
  { name: "adamw", make: (lr) => adamw(lr), lr: 0.05, defaults: () => adamw(0.1) },
  { name: "nadam", make: (lr) => nadam(lr), lr: 0.05, defaults: () => nadam(0.1) },
  { name: "radam", make: (lr) => radam(lr), lr: 0.05, defaults: () => radam(0.1) },
  { name: "adamax", make: (lr) => adamax(lr), lr: 0.05, defaults: () => adamax(0.1) },
  { name: "amsgrad", make: (lr) => amsgrad(lr), lr: 0.05, defaults: () => amsgrad(0.1) },
  { name: "rmsprop", make: (lr) => rmsprop(lr), lr: 0.02, defaults: () => rmsprop(0.1) },
  {
    name: "rmsprop centered momentum",
    make: (lr) => rmsprop(lr, { centered: true, momentum: 0.5 }),
    lr: 0.01,
    defaults: () => rmsprop(0.1, { centered: true }),
  },
  { name: "adagrad", make: (lr) => adagrad(lr), lr: 0.5, defaults: () => adagrad(0.1) },
  { name: "adadelta", make: (lr) => adadelta(lr), lr: 10, defaults: () => adadelta() },
  { name: "lion", make: (lr) => lion(lr), lr: 0.03, defaults: () => lion(0.1) },
  {
    name: "lamb",
    make: (lr) => lamb(lr),
    lr: 0.02,
    defaults: () => lamb(0.1),
    // optax's trust ratio is 1 where a leaf's param norm is exactly 0 and ||p|| / ||u|| next to it,
    // so a param an ulp away from 0 can take a step 1e150 times larger or smaller.
    notContinuous: "the trust ratio jumps at a zero param norm",
  },
  { name: "ranger", make: (lr) => ranger(lr), lr: 0.1, defaults: () => ranger() },
  { name: "lookahead(adam)", make: (lr) => lookahead(adam(lr)), lr: 0.05, defaults: () => lookahead(adam(0.1)) },
  {
    name: "chain(clipByGlobalNorm, lookahead(adam))",
    make: (lr) => chain(clipByGlobalNorm(1), lookahead(adam(lr))),
    lr: 0.05,
    defaults: () => chain(clipByGlobalNorm(1), lookahead(adam(0.1))),
  },
  {
    name: "chain(clip, clipByBlockRms, zeroNans, ema, sgd)",
    make: (lr) => chain(clip(10), clipByBlockRms(10), zeroNans(), ema(0.5), sgd(lr)),
    lr: 0.1,
    defaults: () => chain(clip(10), clipByBlockRms(10), zeroNans(), ema(0.5), sgd(0.1)),
  },
  {
    name: "masked(adam) + multiTransform",
    make: (lr) =>
      multiTransform({ a: masked(adam(lr), true), s: sgd(lr) }, (path) => (path.length % 2 === 0 ? "a" : "s")),
    lr: 0.05,
    defaults: () => multiTransform({ a: adam(0.1), s: sgd(0.1) }, (path) => (path.length % 2 === 0 ? "a" : "s")),
  },
  {
    name: "injectHyperparams(adam)",
    make: (lr) => injectHyperparams((h) => adam(h.lr), { lr }),
    lr: 0.05,
    defaults: () => injectHyperparams((h) => adam(h.lr), { lr: 0.1 }),
  },
  {
    name: "applyIfFinite(adam)",
    make: (lr) => applyIfFinite(adam(lr), 3),
    lr: 0.05,
    defaults: () => applyIfFinite(adam(0.1), 3),
  },
  {
    name: "multiSteps(sgd, 1)",
    make: (lr) => multiSteps(sgd(lr), 1),
    lr: 0.2,
    defaults: () => multiSteps(sgd(0.1), 1),
  },
];
