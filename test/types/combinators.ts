// Type tests of the combinators' extra-argument needs: each one holding reduceOnPlateau needs
// `{ value }` in its type, and one holding none keeps `extra` optional. Checked by `tsc` (never run).
import {
  adam,
  applyIfFinite,
  conditionallyMask,
  conditionallyTransform,
  injectHyperparams,
  masked,
  monitor,
  multiSteps,
  multiTransform,
  namedChain,
  reduceOnPlateau,
  sgd,
  type ExtraArgsNeeded,
  type ReduceOnPlateauState,
  type ScaleByAdamState,
} from "gradtx";

/** True exactly when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when T is true. */
type Assert<T extends true> = T;

const g = Float64Array.of(1, 2);
const extra = { value: 1 };

const inMask = masked(reduceOnPlateau(), true);
const inParts = multiTransform({ a: reduceOnPlateau(), b: sgd(0.1) }, () => "a");
const injected = injectHyperparams((h) => reduceOnPlateau({ factor: h.factor }), { factor: 0.5 });
const guarded = applyIfFinite(reduceOnPlateau(), 2);
const accumulated = multiSteps(reduceOnPlateau(), 2);

export type Needs = [
  Assert<Equal<ExtraArgsNeeded<typeof inMask>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof inParts>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof injected>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof guarded>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof accumulated>, "value">>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof masked<ReturnType<typeof adam>>>>, never>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof applyIfFinite<ReturnType<typeof adam>>>>, never>>,
];

// With the loss, each compiles; the state keeps its inner type.
inMask.update(g, inMask.init(g), g, extra);
inParts.update(g, inParts.init(g), g, extra);
injected.update(g, injected.init(g), g, extra);
guarded.update(g, guarded.init(g), g, extra);
accumulated.update(g, accumulated.init(g), g, extra);
export const innerScale: number = guarded.init(g).inner.scale + accumulated.init(g).inner.scale;

// @ts-expect-error masked holding reduceOnPlateau needs the loss: { value }
inMask.update(g, inMask.init(g), g);
// @ts-expect-error ...and so does multiTransform
inParts.update(g, inParts.init(g), g);
// @ts-expect-error ...and injectHyperparams
injected.update(g, injected.init(g), g);
// @ts-expect-error ...and applyIfFinite
guarded.update(g, guarded.init(g), g);
// @ts-expect-error ...and multiSteps
accumulated.update(g, accumulated.init(g), g, {});

// Holding none, extra stays optional.
const plain = multiTransform({ a: adam(0.1), b: sgd(0.1) }, () => "a");
plain.update(g, plain.init(g), g);
const plainMask = masked(adam(0.1), true);
plainMask.update(g, plainMask.init(g));

// namedChain: the state keyed by the names, each with its part's type.
const named = namedChain(["opt", adam(0.1)], ["plateau", reduceOnPlateau()]);
const namedState = named.init(g);
export type NamedTypes = [
  Assert<Equal<ExtraArgsNeeded<typeof named>, "value">>,
  Assert<Equal<typeof namedState.plateau, ReduceOnPlateauState>>,
  Assert<Equal<(typeof namedState.opt)[0], ScaleByAdamState>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof namedChain<[["a", ReturnType<typeof sgd>]]>>>, never>>,
];
named.update(g, namedState, g, extra);
// @ts-expect-error ...and namedChain
named.update(g, namedState, g);
// @ts-expect-error the state has the parts' names only
export const noSuchPart: unknown = namedState.other;

// conditionallyTransform and conditionallyMask.
const sometimes = conditionallyTransform(reduceOnPlateau(), (step) => step < 3);
const masking = conditionallyMask(reduceOnPlateau(), (step) => step < 3, { forwardExtraArgs: true });
export type ConditionalTypes = [
  Assert<Equal<ExtraArgsNeeded<typeof sometimes>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof masking>, "value">>,
  Assert<Equal<ReturnType<typeof sometimes.init>["innerState"], ReduceOnPlateauState>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof conditionallyMask<ReturnType<typeof sgd>>>>, never>>,
];
sometimes.update(g, sometimes.init(g), g, extra);
// @ts-expect-error ...and conditionallyTransform
sometimes.update(g, sometimes.init(g), g);
// @ts-expect-error ...and conditionallyMask
masking.update(g, masking.init(g), g, {});

// monitor: a measure that is a transformation brings its needs; a function brings none.
const watched = monitor({ norm: (u) => u, plateau: reduceOnPlateau() });
const unwatched = monitor({ norm: (u) => u, average: adam(0.1) });
export type MonitorTypes = [
  Assert<Equal<ExtraArgsNeeded<typeof watched>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof unwatched>, never>>,
];
watched.update(g, watched.init(g), g, extra);
unwatched.update(g, unwatched.init(g), g);
// @ts-expect-error ...and monitor with such a measure
watched.update(g, watched.init(g), g);
