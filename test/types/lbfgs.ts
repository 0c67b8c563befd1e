// Type tests of L-BFGS and the line searches: which extra arguments their types need, through
// lbfgs's chain and a lookahead around it. Checked by `tsc` (never run).
import {
  lbfgs,
  lookahead,
  scaleByBacktrackingLinesearch,
  scaleByLbfgs,
  scaleByZoomLinesearch,
  tree,
  type ExtraArgsNeeded,
  type PyTree,
} from "gradtx";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

const solver = lbfgs();
const backtracking = lbfgs({ linesearch: scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 10 }) });
export const storing = scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 10, storeGrad: true });
const plain = lbfgs({ linesearch: null, learningRate: 0.1 });
export const around = lookahead(lbfgs({ memorySize: 5 }));
export type LbfgsNeeds = [
  Assert<Equal<ExtraArgsNeeded<typeof solver>, "value" | "grad" | "valueFn" | "gradFn">>,
  Assert<Equal<ExtraArgsNeeded<typeof around>, "value" | "grad" | "valueFn" | "gradFn">>,
  Assert<Equal<ExtraArgsNeeded<typeof backtracking>, "value" | "grad" | "valueFn">>,
  Assert<Equal<ExtraArgsNeeded<typeof storing>, "value" | "grad" | "valueFn" | "gradFn">>,
  Assert<Equal<ExtraArgsNeeded<typeof plain>, never>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof scaleByLbfgs>>, never>>,
  Assert<Equal<ExtraArgsNeeded<ReturnType<typeof scaleByZoomLinesearch>>, "value" | "grad" | "valueFn" | "gradFn">>,
];

const params = Float64Array.of(1, 2);
const valueFn = (p: PyTree) => tree.vdot(p, p);
const gradFn = (p: PyTree) => tree.scale(2, p);
const grad = tree.scale(2, params);
const [, state] = solver.update(grad, solver.init(params), params, { value: valueFn(params), grad, valueFn, gradFn });
export const learningRate: number = state[2].learningRate;
export const memory: readonly PyTree[] = state[0].diffParamsMemory;
plain.update(grad, plain.init(params), params);
// @ts-expect-error lbfgs's zoom line search needs { value, grad, valueFn, gradFn }
solver.update(grad, solver.init(params), params);
// @ts-expect-error ...gradFn included, as gradtx does not differentiate valueFn
solver.update(grad, solver.init(params), params, { value: 1, grad, valueFn });
backtracking.update(grad, backtracking.init(params), params, { value: 1, grad, valueFn });
// @ts-expect-error the line search's state is the chain's third part
export const none = state[3];
