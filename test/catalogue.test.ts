/**
 * Every optimizer of the catalogue, in one table, under the same properties: the laws of a
 * transformation, convergence on a well-conditioned quadratic, the Lookahead laws with it as
 * the inner optimizer, a falling loss on f(x) = sum(x^2) from [1, 2, 3] with its defaults, and
 * INVALID_HYPERPARAMETER at construction for bad hyperparameters.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  amsgrad,
  applyIfFinite,
  clip,
  clipByBlockRms,
  ema,
  injectHyperparams,
  lamb,
  lion,
  masked,
  multiSteps,
  nadam,
  radam,
  ranger,
  rmsprop,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  sgd,
  tree,
  type PyTree,
} from "../src/index.js";
import {
  arbitraryProblem,
  checkLookaheadAlphaZero,
  checkLookaheadLaws,
  checkLookaheadSync,
  checkLookaheadSyncPeriodOne,
  checkTransformationLaws,
  type Problem,
} from "../src/laws/index.js";
import { asLeafLike, dataOf } from "../src/core/pytree.js";
import { everyEntry } from "./catalogue.js";
import { expectClose, trajectory, values } from "./helpers.js";

/** f(x) = 0.5 sum a_i x_i^2 with a in [1, 2]: condition number 2. */
const curvature = [1, 1.25, 1.5, 1.75, 2, 1.1];
const quadraticGrad = (p: PyTree): PyTree =>
  tree.map((leaf) => (leaf as Float64Array).map((x, i) => curvature[i % curvature.length]! * x), p);
const quadraticLoss = (p: PyTree): number =>
  tree
    .leaves(p)
    .reduce(
      (s, leaf) =>
        s + (leaf as Float64Array).reduce((t, x, i) => t + 0.5 * curvature[i % curvature.length]! * x * x, 0),
      0,
    );

/** The laws' problems with every element below 1e-8 in magnitude set to 0 (see `flushesTiny`). */
const withoutTiny = (maxSteps: number): fc.Arbitrary<Problem> => {
  const flush = (t: PyTree): PyTree =>
    tree.map((leaf) => {
      const data = dataOf(leaf).slice();
      for (let j = 0; j < data.length; j++) if (Math.abs(data[j]!) < 1e-8) data[j] = 0;
      return asLeafLike(leaf, data);
    }, t);
  return arbitraryProblem({ maxSteps }).map(({ params, grads }) => ({
    params: flush(params),
    grads: grads.map(flush),
  }));
};

describe.each(everyEntry)("$name", (entry) => {
  it("is pure, deterministic, keeps structure and dtypes, is chain's neighbour, and maps finite to finite", () => {
    checkTransformationLaws(entry.make(entry.lr), {
      numRuns: 25,
      finite: entry.overflows === undefined,
      ...(entry.flushesTiny === undefined ? {} : { problems: withoutTiny(12) }),
    });
  });

  it("converges on a well-conditioned quadratic from a fixed start", () => {
    const x0 = { w: Float64Array.of(1, -2, 3, 0.5), b: Float64Array.of(-1, 2) };
    const run = trajectory(entry.make(entry.lr), x0, quadraticGrad, 300);
    expect(quadraticLoss(run[299]!.params)).toBeLessThan(0.01 * quadraticLoss(x0));
  });

  it("satisfies every Lookahead law as Lookahead's inner optimizer (alpha = 1 only where it is continuous)", () => {
    const options = {
      numRuns: 10,
      inners: [(lr: number) => entry.make(lr)],
      ...(entry.flushesTiny === undefined ? {} : { problems: withoutTiny(16) }),
    };
    if (entry.notContinuous === undefined) checkLookaheadLaws(options);
    else {
      checkLookaheadAlphaZero(options);
      checkLookaheadSyncPeriodOne(options);
      checkLookaheadSync(options);
    }
  });

  it("takes its documented first step on f(x) = sum(x^2) from x0 = [1, 2, 3] with its defaults", () => {
    const x0 = [1, 2, 3];
    const [point] = trajectory(entry.defaults(), Float64Array.from(x0), (p) => tree.scale(2, p), 1);
    const expected = entry.firstStep(
      x0,
      x0.map((v) => 2 * v),
    );
    // A few roundings apart: the library and the formula order their operations differently.
    expectClose(point!.params, Float64Array.from(expected), 1e-14, entry.name);
    // And the step went somewhere: no entry's first step leaves x0 where it was, but the one
    // that says why.
    if (entry.firstStepStandsStill === undefined) expect(values(point!.params)).not.toEqual(x0);
    else expect(values(point!.params)).toEqual(x0);
  });
});

describe("bad hyperparameters throw INVALID_HYPERPARAMETER when the optimizer is built, naming the parameter and its range", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["sgd lr -1", () => sgd(-1), /learningRate must be a number >= 0, got -1/],
    ["adam b2 = 1", () => adam(0.1, { b2: 1 }), /b2 must be a number in \[0, 1\), got 1/],
    ["adamw eps -1", () => adamw(0.1, { eps: -1 }), /eps must be a number >= 0/],
    ["nadam b1 2", () => nadam(0.1, { b1: 2 }), /b1 must be a number in \[0, 1\)/],
    ["radam threshold NaN", () => radam(0.1, { threshold: NaN }), /threshold must be a number/],
    ["adamax lr NaN", () => adamax(NaN), /learningRate/],
    ["amsgrad epsRoot -1", () => amsgrad(0.1, { epsRoot: -1 }), /epsRoot must be a number >= 0/],
    ["rmsprop decay 1", () => rmsprop(0.1, { decay: 1 }), /decay must be a number in \[0, 1\)/],
    [
      "rmsprop momentum -0.5",
      () => rmsprop(0.1, { momentum: -0.5 }),
      /^rmsprop: momentum must be a number >= 0, got -0.5/,
    ],
    [
      "adagrad initialAccumulatorValue -1",
      () => adagrad(0.1, { initialAccumulatorValue: -1 }),
      /initialAccumulatorValue must be a number >= 0/,
    ],
    ["adadelta rho 1.5", () => adadelta(1, { rho: 1.5 }), /rho must be a number in \[0, 1\]/],
    ["lion b1 -1", () => lion(0.1, { b1: -1 }), /b1 must be a number in \[0, 1\]/],
    ["lamb weightDecay -1", () => lamb(0.1, { weightDecay: -1 }), /weightDecay must be a number >= 0/],
    ["ranger syncPeriod 0", () => ranger(1e-3, { syncPeriod: 0 }), /syncPeriod must be an integer in \[1, /],
    ["scaleByRms eps NaN", () => scaleByRms({ eps: NaN }), /eps must be a number >= 0, got NaN/],
    ["scaleByStddev initialScale -1", () => scaleByStddev({ initialScale: -1 }), /initialScale/],
    ["scaleByRss eps -1", () => scaleByRss({ eps: -1 }), /eps/],
    ["ema decay 1", () => ema(1), /decay must be a number in \[0, 1\)/],
    ["clip maxDelta -1", () => clip(-1), /maxDelta must be a number >= 0/],
    ["clipByBlockRms 0", () => clipByBlockRms(0), /threshold must be a number > 0/],
    ["applyIfFinite 1.5", () => applyIfFinite(sgd(1), 1.5), /maxConsecutiveErrors must be an integer >= 0/],
    ["multiSteps 0", () => multiSteps(sgd(1), 0), /everyKSteps must be an integer >= 1/],
    [
      "injectHyperparams lr -1",
      () => injectHyperparams((h) => adam(h.lr), { lr: -1 }),
      /learningRate must be a number >= 0, got -1/,
    ],
    ["masked of a non-transformation", () => masked({} as never, true), /expected a GradientTransformation/],
  ];
  it.each(cases)("%s", (_, build, message) => {
    expect(build).toThrowError(
      expect.objectContaining({ code: "INVALID_HYPERPARAMETER", message: expect.stringMatching(message) }),
    );
  });
});
