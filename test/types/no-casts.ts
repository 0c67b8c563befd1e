// Type tests of the training-loop API: what compiles without a cast, and (`@ts-expect-error`)
// what must not compile. Checked by `tsc` (never run): here against the source, and by
// test/smoke/pack-smoke.mjs against the published declarations.
import {
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  amsgrad,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  compile,
  deserializeParams,
  lamb,
  lion,
  lookahead,
  nadam,
  radam,
  ranger,
  reduceOnPlateau,
  rmsprop,
  serializeParams,
  sgd,
  slowParams,
  tree,
  type EmptyState,
  type ExtraArgsNeeded,
  type GradientTransformationExtraArgs,
  type ReduceOnPlateauState,
  type ShapesState,
  type FloatNdArray,
  type GradientTransformation,
  type LookaheadState,
  type PyTree,
  type ScaleByAdadeltaState,
  type ScaleByAdamState,
  type ScaleByAmsgradState,
  type ScaleByLionState,
  type ScaleByRmsState,
  type ScaleByRssState,
  type ScaleByScheduleState,
  type ScaleByStddevState,
  type TraceState,
} from "gradtx";

/** True exactly when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when T is true. */
type Assert<T extends true> = T;

// Params declared with an interface: accepted everywhere, and given back by applyUpdates.
interface Layer {
  w: FloatNdArray<Float32Array>;
  b: Float32Array;
}
interface Params {
  layers: Layer[];
  scale: Float64Array;
}
declare function lossAndGrads(params: Params): { loss: number; grads: Params };
declare const initial: Params;

const optimizer = chain(clipByGlobalNorm(1), lookahead(adam(1e-3)));
let params = initial;
let state = optimizer.init(params);
for (let step = 0; step < 10; step++) {
  const { grads } = lossAndGrads(params);
  const [updates, next] = optimizer.update(grads, state, params);
  params = applyUpdates(params, updates);
  state = next;
}
export const trained: Params = params;

// applyUpdates returns the params' own type, whatever it is.
declare const updates: PyTree;
type Alias = { w: Float32Array; b: readonly [Float64Array, null] };
declare const alias: Alias;
declare const nd: FloatNdArray<Float64Array>;
declare const f64: Float64Array;
declare const anyTree: PyTree;
export const applied = {
  interface: applyUpdates(initial, updates),
  alias: applyUpdates(alias, updates),
  f64: applyUpdates(f64, updates),
  fresh: applyUpdates(Float64Array.of(1), updates),
  ndarray: applyUpdates(nd, updates),
  pytree: applyUpdates(anyTree, updates),
};
export type AppliedTypes = [
  Assert<Equal<typeof applied.interface, Params>>,
  Assert<Equal<typeof applied.alias, Alias>>,
  Assert<Equal<typeof applied.f64, Float64Array>>,
  Assert<Equal<typeof applied.fresh, Float64Array<ArrayBuffer>>>,
  Assert<Equal<typeof applied.ndarray, FloatNdArray<Float64Array>>>,
  Assert<Equal<typeof applied.pytree, PyTree>>,
];
// Updates of the params' own type are accepted too (a hand-written SGD step).
export const sgdStep: Params = applyUpdates(initial, tree.scale(-0.1, initial));

// Generic code over pytrees, and a transformation written against PyTree, keep compiling.
export function stepAll<T extends PyTree>(p: T, u: PyTree): T {
  return applyUpdates(p, u);
}
export const handWritten: GradientTransformation<EmptyState> = {
  init: (_params: PyTree) => ({}),
  update: (u: PyTree, s: EmptyState, p?: PyTree) => [tree.add(u, p ?? tree.zerosLike(u)), s],
};
export const inChain = chain(handWritten, sgd(0.1)).init(initial);

// The slow weights, typed by the params you name (they are like the params, ndarray leaves too),
// checkpoints typed by their template, tree utilities typed by their input.
export const slow = slowParams<Params>(state);
export const slowUntyped = slowParams(state);
export const restored = deserializeParams(serializeParams(initial), initial);
export const zeros = tree.zerosLike(initial);
export const scaled = tree.scale(2, initial);
export type TypedByParams = [
  Assert<Equal<typeof slow, Params>>,
  Assert<Equal<(typeof slow)["layers"][number]["w"], Layer["w"]>>,
  Assert<Equal<typeof slowUntyped, PyTree>>,
  Assert<Equal<typeof restored, Params>>,
  Assert<Equal<typeof zeros, Params>>,
  Assert<Equal<typeof scaled, Params>>,
];

// compile: params and grads typed by the params, state() by the optimizer.
const run = compile(optimizer, initial);
export const live: Params = run.params;
export const gradBuffers = run.grads;
export const compiledState: typeof state = run.state();
run.step(initial);

// Every alias has its real state type, and chain keeps the tuple of its parts' states.
type Lr = ShapesState | ScaleByScheduleState;
type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;
export type AliasStates = [
  Assert<Equal<StateOf<ReturnType<typeof sgd>>, [ShapesState | TraceState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof adam>>, [ScaleByAdamState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof adamw>>, [ScaleByAdamState, ShapesState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof nadam>>, [ScaleByAdamState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof radam>>, [ScaleByAdamState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof adamax>>, [ScaleByAdamState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof amsgrad>>, [ScaleByAmsgradState, Lr]>>,
  Assert<
    Equal<StateOf<ReturnType<typeof rmsprop>>, [ScaleByRmsState | ScaleByStddevState, Lr, ShapesState | TraceState]>
  >,
  Assert<Equal<StateOf<ReturnType<typeof adagrad>>, [ScaleByRssState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof adadelta>>, [ShapesState, ScaleByAdadeltaState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof lion>>, [ScaleByLionState, ShapesState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof lamb>>, [ScaleByAdamState, ShapesState, ShapesState, Lr]>>,
  Assert<Equal<StateOf<ReturnType<typeof ranger>>, LookaheadState<[ScaleByAdamState, Lr]>>>,
  Assert<Equal<typeof state, [ShapesState, LookaheadState<[ScaleByAdamState, Lr]>]>>,
];
export const adamCount: number = state[1].inner[0].count;

// What must not compile.
// @ts-expect-error a string is no pytree
optimizer.init({ w: "hello" });
// @ts-expect-error a number is no leaf
optimizer.update({ w: 1 }, state);
// @ts-expect-error an Int32Array is no float leaf
applyUpdates({ w: new Int32Array(2) }, updates);
interface Named {
  w: Float32Array;
  name: string;
}
declare const named: Named;
// @ts-expect-error an interface with a non-tree field
optimizer.init(named);
// @ts-expect-error ...nor as params to apply updates to
applyUpdates(named, updates);
// @ts-expect-error the result keeps the params' dtype: a Float64Array is no Float32Array
export const wrongDtype: Float32Array = applyUpdates(Float64Array.of(1), updates);
// @ts-expect-error the result has the params' fields, and no others
export const noSuchField = applyUpdates(initial, updates).bias;
// @ts-expect-error another optimizer's state
sgd(0.1).update(updates, adam(0.1).init(initial));
// @ts-expect-error adam's state is no trace
export const notTrace: GradientTransformation<[TraceState, Lr]> = adam(0.1);
// @ts-expect-error the chain's state has two parts
export const third = state[2];
// @ts-expect-error run.params has the params' fields only
export const noSuchLive = run.params.bias;
// @ts-expect-error the checkpoint is typed by its template
export const wrongTemplate: Alias = deserializeParams(serializeParams(initial), initial);

// Extra arguments: the types say which transformations need which fields, through chain and
// lookahead; one that needs none keeps its optional `extra`.
const plateau = chain(adam(1e-3), reduceOnPlateau({ patience: 5 }));
let plateauState = plateau.init(initial);
const { loss, grads } = lossAndGrads(initial);
[, plateauState] = plateau.update(grads, plateauState, initial, { value: loss });
export const plateauScale: number = plateauState[1].scale;
export const aroundPlateau = lookahead(plateau);
aroundPlateau.update(grads, aroundPlateau.init(initial), initial, { value: loss });
optimizer.update(grads, state, params, { value: loss });
// A user's own transformation receives extra as its fourth argument.
export const readsLoss: GradientTransformation<EmptyState> = {
  init: () => ({}),
  update: (u, s, _p, extra) => [extra?.value === undefined ? u : tree.scale(extra.value, u), s],
};
export type ExtraTypes = [
  Assert<Equal<ExtraArgsNeeded<typeof plateau>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof aroundPlateau>, "value">>,
  Assert<Equal<ExtraArgsNeeded<typeof optimizer>, never>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof reduceOnPlateau>>, "value">>,
];
export const asExtraArgs: GradientTransformationExtraArgs<ReduceOnPlateauState, "value"> = reduceOnPlateau();
// @ts-expect-error reduceOnPlateau needs the loss: { value }
reduceOnPlateau().update(grads, reduceOnPlateau().init(initial), initial);
// @ts-expect-error ...and so does a chain holding it
plateau.update(grads, plateauState, initial);
// @ts-expect-error ...and a lookahead around that
aroundPlateau.update(grads, aroundPlateau.init(initial), initial, {});
// @ts-expect-error the loss is a number
plateau.update(grads, plateauState, initial, { value: "0.5" });
// @ts-expect-error extra has the fields value, grad, valueFn and gradFn only
optimizer.update(grads, state, params, { loss: 1 });
