/**
 * Line searches: `scaleByZoomLinesearch` and `scaleByBacktrackingLinesearch`, optax's
 * `scale_by_zoom_linesearch` and `scale_by_backtracking_linesearch`. They scale the updates by a
 * learning rate found by evaluating the loss along them, from the functions the caller passes in
 * `extra`. Not elementwise: plain TypeScript that the executor runs as a barrier.
 *
 * @module
 */
import { barrier } from "../kernels/executor.js";
import type { ExtraArgName, ExtraArgs, GradientTransformationExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { flatten, type Flat, type FloatArray, type PyTree } from "../core/pytree.js";
import { paramsFlat, stateRecord, treeLike, zerosTree } from "../core/state.js";
import { checkBoolean, checkNumber, invalid, readOptions } from "../core/validate.js";
import {
  axpy,
  dot,
  gradAt,
  inDtypesOf,
  scaled,
  stateNumber,
  stateNumbers,
  stateVector,
  valueAt,
  vectorOf,
  zerosOf,
} from "./vectors.js";

/** What the zoom line search reads from `extra`. @since 0.3.0 */
export type ZoomLinesearchNeeds = "value" | "grad" | "valueFn" | "gradFn";

/** What the backtracking line search reads from `extra` (and `gradFn` with `storeGrad`). @since 0.3.0 */
export type BacktrackingLinesearchNeeds = "value" | "grad" | "valueFn";

/** Reads a field of `extra` a line search needs, or throws `MISSING_EXTRA_ARG` naming it. */
function needed<K extends ExtraArgName>(
  where: string,
  extra: ExtraArgs | undefined,
  key: K,
  fields: string,
): NonNullable<ExtraArgs[K]> {
  const value = extra?.[key];
  if (value === undefined || value === null)
    throw new GradTxError(
      "MISSING_EXTRA_ARG",
      `${where} reads extra.${key}: pass ${fields} in the fourth argument of update (update(grads, state, params, { ${fields} }))`,
    );
  return value as NonNullable<ExtraArgs[K]>;
}

/** The line `w + eta u` a search walks: the params and the updates, with the caller's functions. */
interface Line {
  readonly where: string;
  readonly updates: Flat;
  readonly params: Flat;
  readonly w: readonly FloatArray[];
  readonly u: readonly FloatArray[];
  /** The loss at the params, `extra.value`. */
  readonly value: number;
  /** The gradient at the params, `extra.grad`, in the params' dtypes. */
  readonly grad: FloatArray[];
  /** `<u, grad>`: the slope of the loss along the updates at `eta = 0`. */
  readonly slope: number;
  readonly valueFn: (params: PyTree) => number;
}

/** The params at `eta` along the line, a tree like the params. */
function pointAt(line: Line, eta: number): PyTree {
  return treeLike(line.params, axpy(line.w, eta, line.u));
}

/** Reads the line from an update's arguments, or throws `MISSING_PARAMS` / `MISSING_EXTRA_ARG`. */
function lineOf(
  where: string,
  updates: PyTree,
  params: PyTree | undefined,
  extra: ExtraArgs | undefined,
  fields: string,
): Line {
  const flat = flatten(updates);
  const p = paramsFlat(where, params, flat);
  const value = needed(where, extra, "value", fields);
  const g = needed(where, extra, "grad", fields);
  const valueFn = needed(where, extra, "valueFn", fields);
  const u = vectorOf(flat);
  const grad = inDtypesOf(p, vectorOf(flatten(g)));
  return { where, updates: flat, params: p, w: vectorOf(p), u, value, grad, slope: dot(u, grad), valueFn };
}

/** A line search's record of the last search, checked: the learning rate, the value and the info's numbers. */
function searchState<
  S extends { readonly learningRate: number; readonly value: number; readonly grad: PyTree; readonly info: object },
>(where: string, state: unknown, infoKeys: readonly string[]): S {
  const s = stateRecord<S>(where, state, ["learningRate", "value", "grad", "info"]);
  stateNumber(where, "learningRate", s.learningRate);
  stateNumber(where, "value", s.value);
  stateNumbers(`${where}: info`, s.info, infoKeys);
  return s;
}

/** `x` with NaN as Infinity, and negative values as 0: how far a criterion is from holding. */
const violation = (x: number): number => (Number.isNaN(x) ? Infinity : Math.max(x, 0));

/** The options of {@link scaleByZoomLinesearch}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface ZoomLinesearchOptions {
  /** The most evaluations of the loss per search, an integer >= 1 (required, as in optax). */
  readonly maxLinesearchSteps: number;
  /** The largest learning rate tried, > 0; null (the default) for no bound. */
  readonly maxLearningRate?: number | null;
  /** Tolerance on both criteria, >= 0; default 0. */
  readonly tol?: number;
  /** What the learning rate is multiplied by while searching for an interval, >= 1; default 2. */
  readonly increaseFactor?: number;
  /** `c1` of the sufficient decrease, >= 0; default 1e-4. */
  readonly slopeRtol?: number;
  /** `c2` of the curvature criterion, >= 0 (Infinity drops it); default 0.9. */
  readonly curvRtol?: number;
  /** `c3` of the approximate decrease criterion, >= 0, or null to use only Armijo's; default 1e-6. */
  readonly approxDecRtol?: number | null;
  /** The interval length below which a learning rate of sufficient decrease is taken, >= 0; default 1e-5. */
  readonly stepsizePrecision?: number;
  /** The first learning rate tried: `"one"`, or `"keep"` the last search's (the default). */
  readonly initialGuessStrategy?: "one" | "keep";
}

/** How the last zoom search went: optax's `ZoomLinesearchInfo`. @since 0.3.0 */
export interface ZoomLinesearchInfo {
  /** Evaluations of the loss (and gradient) the search made. */
  readonly numLinesearchSteps: number;
  /** How far the learning rate taken is from sufficient decrease: 0 when it holds. */
  readonly decreaseError: number;
  /** How far it is from the curvature criterion: 0 when it holds. */
  readonly curvatureError: number;
}

/**
 * The state of {@link scaleByZoomLinesearch}: optax's `ScaleByZoomLinesearchState`. The numbers
 * are float64; `grad` is a tree like the params (their leaf kinds and dtypes).
 *
 * @since 0.3.0
 */
export interface ScaleByZoomLinesearchState {
  /** The learning rate the last search took (1 at init). */
  readonly learningRate: number;
  /** The loss at the params that learning rate leads to (Infinity at init). */
  readonly value: number;
  /** The gradient there (zeros at init). */
  readonly grad: PyTree;
  /** How the last search went. */
  readonly info: ZoomLinesearchInfo;
}

const ZOOM_INFO = ["numLinesearchSteps", "decreaseError", "curvatureError"] as const;

/** The point of a line where a search evaluated: `eta`, the loss, its gradient and its slope along the line. */
interface Probe {
  readonly eta: number;
  readonly value: number;
  readonly grad: FloatArray[];
  readonly slope: number;
}

/** A critical point of the cubic through `(a, fa)` with slope `fpa` there, `(b, fb)` and `(c, fc)` (NaN if none). */
function cubicMin(a: number, fa: number, fpa: number, b: number, fb: number, c: number, fc: number): number {
  const db = b - a;
  const dc = c - a;
  const denom = (db * dc) ** 2 * (db - dc);
  const rb = fb - fa - fpa * db;
  const rc = fc - fa - fpa * dc;
  const A = (dc * dc * rb - db * db * rc) / denom;
  const B = (-(dc ** 3) * rb + db ** 3 * rc) / denom;
  return a + (-B + Math.sqrt(B * B - 3 * A * fpa)) / (3 * A);
}

/** The critical point of the quadratic through `(a, fa)` with slope `fpa` there and `(b, fb)`. */
function quadMin(a: number, fa: number, fpa: number, b: number, fb: number): number {
  const db = b - a;
  const B = (fb - fa - fpa * db) / (db * db);
  return a - fpa / (2 * B);
}

/**
 * Scales the updates by a learning rate that satisfies the strong Wolfe conditions along them:
 * optax's `scale_by_zoom_linesearch` (Nocedal and Wright, Algorithms 3.5 and 3.6, with Hager
 * and Zhang's approximate decrease criterion near a minimum). With `f` the loss, `w` the params
 * and `u` the updates, it looks for `eta` with
 * ```
 * f(w + eta u) <= f(w) + c1 eta <u, grad f(w)> + tol                     (sufficient decrease, c1 = slopeRtol)
 *   or, where f(w + eta u) <= f(w) + c3 |f(w)|:
 *   <grad f(w + eta u), u> <= (2 c1 - 1) <grad f(w), u> + tol            (approximate decrease, c3 = approxDecRtol)
 * |<grad f(w + eta u), u>| <= c2 |<grad f(w), u>| + tol                  (curvature, c2 = curvRtol)
 * u' = eta u
 * ```
 * first growing `eta` by `increaseFactor` from the initial guess until an interval is bracketed,
 * then shrinking the interval by cubic, quadratic or bisection steps. After `maxLinesearchSteps`
 * evaluations (or an interval shorter than `stepsizePrecision`) it takes the best learning rate of
 * sufficient decrease it found, else the last one tried (0 if the loss was never finite).
 *
 * Its update reads `extra.value` (the loss at the params), `extra.grad` (its gradient there),
 * `extra.valueFn` and `extra.gradFn` (the loss and its gradient as functions of the params), and
 * throws `MISSING_EXTRA_ARG` naming the one it lacks. Where gradtx differs from optax, which
 * differentiates `valueFn` with JAX: it needs `gradFn` too, as gradtx has no automatic
 * differentiation; optax's `verbose` printing is not there (the state's `info` says how the search
 * went); and the numbers are float64 (optax keeps them in the params' dtype). The trial params
 * `w + eta u` are computed in the params' dtypes.
 *
 * @param options optax's keyword arguments, camelCased; see {@link ZoomLinesearchOptions}.
 * @example
 * ```ts
 * import { applyUpdates, chain, scaleByZoomLinesearch, sgd, tree, type PyTree } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3]: gradient descent, the line search picking the step
 * const valueFn = (p: PyTree) => tree.vdot(p, p);
 * const gradFn = (p: PyTree) => tree.scale(2, p);
 * const solver = chain(sgd(1), scaleByZoomLinesearch({ maxLinesearchSteps: 15 }));
 * const params = Float64Array.of(1, 2, 3);
 * const grad = tree.scale(2, params);
 * const extra = { value: valueFn(params), grad, valueFn, gradFn };
 * const [updates, state] = solver.update(grad, solver.init(params), params, extra);
 * valueFn(applyUpdates(params, updates)); // 0: the step of 0.5 lands on the minimum
 * state[1].learningRate; // 0.5
 * ```
 * @since 0.3.0
 */
export function scaleByZoomLinesearch(
  options: ZoomLinesearchOptions,
): GradientTransformationExtraArgs<ScaleByZoomLinesearchState, ZoomLinesearchNeeds> {
  const where = "scaleByZoomLinesearch";
  options = readOptions(
    where,
    options,
    [
      "maxLinesearchSteps",
      "maxLearningRate",
      "tol",
      "increaseFactor",
      "slopeRtol",
      "curvRtol",
      "approxDecRtol",
      "stepsizePrecision",
      "initialGuessStrategy",
    ],
    {
      hint: "optax's scale_by_zoom_linesearch(max_linesearch_steps=15) is scaleByZoomLinesearch({ maxLinesearchSteps: 15 })",
    },
  );
  const maxSteps = checkNumber(where, "maxLinesearchSteps", options.maxLinesearchSteps, { min: 1, integer: true });
  const maxLr =
    options.maxLearningRate === undefined || options.maxLearningRate === null
      ? null
      : checkNumber(where, "maxLearningRate", options.maxLearningRate, { min: 0, minExclusive: true });
  const tol = checkNumber(where, "tol", options.tol ?? 0, { min: 0 });
  const increaseFactor = checkNumber(where, "increaseFactor", options.increaseFactor ?? 2, { min: 1 });
  const c1 = checkNumber(where, "slopeRtol", options.slopeRtol ?? 1e-4, { min: 0 });
  const c2 = checkNumber(where, "curvRtol", options.curvRtol ?? 0.9, { min: 0, infinite: true });
  const c3 =
    options.approxDecRtol === null
      ? null
      : checkNumber(where, "approxDecRtol", options.approxDecRtol ?? 1e-6, { min: 0 });
  const precision = checkNumber(where, "stepsizePrecision", options.stepsizePrecision ?? 1e-5, { min: 0 });
  const strategy = options.initialGuessStrategy ?? "keep";
  if (strategy !== "one" && strategy !== "keep")
    invalid(where, `initialGuessStrategy must be "one" or "keep", got ${JSON.stringify(strategy)}`);
  const fields = "value, grad, valueFn and gradFn";

  /** How far `probe` is from sufficient decrease (the smaller of Armijo's and the approximate one). */
  const decreaseError = (line: Line, probe: Probe): number => {
    let error = probe.value - line.value - c1 * probe.eta * line.slope;
    if (c3 !== null) {
      const approximate = Math.max(
        probe.slope - (2 * c1 - 1) * line.slope,
        probe.value - line.value - c3 * Math.abs(line.value),
      );
      error = Math.min(approximate, error);
    }
    return violation(error);
  };
  const curvatureError = (line: Line, probe: Probe): number =>
    violation(Math.abs(probe.slope) - c2 * Math.abs(line.slope));

  const search = (line: Line, gradFn: (p: PyTree) => PyTree, guess: number) => {
    const probeAt = (eta: number): Probe => {
      const point = pointAt(line, eta);
      const value = valueAt(where, line.valueFn, point);
      const grad = gradAt(where, gradFn, point, line.updates, line.params);
      return { eta, value, grad, slope: dot(grad, line.u) };
    };
    const start: Probe = { eta: 0, value: line.value, grad: line.grad, slope: line.slope };
    let current = start;
    let low = start;
    let high = start;
    let cubicRef = start;
    let safe = start;
    let decrease = Infinity;
    let curvature = Infinity;
    let bracketed = false;
    let done = false;
    let failed = false;
    let count = 0;
    while (!done && !failed) {
      if (!bracketed) {
        // Algorithm 3.5: grow the learning rate until an interval holds a good one.
        let eta = count === 0 ? guess : increaseFactor * current.eta;
        const atMax = maxLr !== null && eta >= maxLr;
        if (maxLr !== null) eta = Math.min(eta, maxLr);
        const probe = probeAt(eta);
        decrease = decreaseError(line, probe);
        curvature = curvatureError(line, probe);
        const error = Math.max(decrease, curvature);
        if (decrease <= tol) safe = probe;
        const highIsNew = decrease > 0 || (probe.value >= current.value && count > 0);
        const lowIsNew = probe.slope >= 0 && !highIsNew;
        [low, high] = lowIsNew ? [probe, current] : [current, probe];
        cubicRef = low;
        bracketed = highIsNew || lowIsNew || error <= tol;
        done = error <= tol || (atMax && !bracketed);
        failed = count + 1 >= maxSteps && !done;
        current = probe;
      } else {
        // Algorithm 3.6: shrink the interval around a good learning rate.
        const delta = Math.abs(high.eta - low.eta);
        const left = Math.min(high.eta, low.eta);
        const right = Math.max(high.eta, low.eta);
        const cubic = cubicMin(low.eta, low.value, low.slope, high.eta, high.value, cubicRef.eta, cubicRef.value);
        const quad = quadMin(low.eta, low.value, low.slope, high.eta, high.value);
        const eta =
          cubic > left + 0.2 * delta && cubic < right - 0.2 * delta
            ? cubic
            : quad > left + 0.1 * delta && quad < right - 0.1 * delta
              ? quad
              : (low.eta + high.eta) / 2;
        const probe = probeAt(eta);
        decrease = decreaseError(line, probe);
        curvature = curvatureError(line, probe);
        if (decrease <= tol && probe.value < safe.value) safe = probe;
        done = Math.max(decrease, curvature) <= tol;
        const highToProbe = decrease > 0 || probe.value >= low.value;
        const highToLow = probe.slope * (high.eta - low.eta) >= 0 && !highToProbe;
        cubicRef = highToProbe || highToLow ? high : low;
        if (highToProbe) high = probe;
        else {
          if (highToLow) high = low;
          low = probe;
        }
        failed = (count + 1 >= maxSteps || (delta <= precision && safe.eta > 0)) && !done;
        current = probe;
      }
      count = count + 1;
      // Out of steps: the best learning rate of sufficient decrease, or 0 if the loss was never finite.
      if (failed && (safe.eta > 0 || decrease === Infinity)) current = safe;
    }
    return { taken: current, info: { numLinesearchSteps: count, decreaseError: decrease, curvatureError: curvature } };
  };

  const init = (params: PyTree): ScaleByZoomLinesearchState => ({
    learningRate: 1,
    value: Infinity,
    grad: zerosTree(flatten(params)),
    info: { numLinesearchSteps: 0, decreaseError: Infinity, curvatureError: Infinity },
  });

  const update = (
    updates: PyTree,
    state: ScaleByZoomLinesearchState,
    params?: PyTree,
    extra?: ExtraArgs,
  ): [PyTree, ScaleByZoomLinesearchState] => {
    const s = searchState<ScaleByZoomLinesearchState>(where, state, ZOOM_INFO);
    const flat = flatten(updates);
    stateVector(`${where}: grad`, s.grad, flat);
    const line = lineOf(where, updates, params, extra, fields);
    const gradFn = needed(where, extra, "gradFn", fields);
    const { taken, info } = search(line, gradFn, strategy === "one" ? 1 : s.learningRate);
    return [
      treeLike(line.updates, scaled(taken.eta, line.u)),
      { learningRate: taken.eta, value: taken.value, grad: treeLike(line.params, taken.grad), info },
    ];
  };

  return barrier("ScaleByZoomLinesearch", init, update) as never;
}

/** The options of {@link scaleByBacktrackingLinesearch}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface BacktrackingLinesearchOptions {
  /** The most times the learning rate is cut per search, an integer >= 0 (required, as in optax). */
  readonly maxBacktrackingSteps: number;
  /** `c` of the sufficient decrease, >= 0; default 1e-4. */
  readonly slopeRtol?: number;
  /** What the learning rate is multiplied by at each cut, in (0, 1); default 0.8. */
  readonly decreaseFactor?: number;
  /** What the last search's learning rate is multiplied by for the first guess, >= 1 (Infinity: always `maxLearningRate`); default 1.5. */
  readonly increaseFactor?: number;
  /** The largest learning rate tried, > 0; default 1. */
  readonly maxLearningRate?: number;
  /** Absolute tolerance of the criterion, >= 0; default 0. */
  readonly atol?: number;
  /** Relative tolerance of the criterion, >= 0; default 0. */
  readonly rtol?: number;
  /** Whether to keep the gradient at the new params in the state (then the update reads `extra.gradFn`); default false. */
  readonly storeGrad?: boolean;
}

/** How the last backtracking search went: optax's `BacktrackingLinesearchInfo`. @since 0.3.0 */
export interface BacktrackingLinesearchInfo {
  /** Evaluations of the loss the search made. */
  readonly numLinesearchSteps: number;
  /** How far the learning rate taken is from sufficient decrease: 0 when it holds. */
  readonly decreaseError: number;
}

/**
 * The state of {@link scaleByBacktrackingLinesearch}: optax's `ScaleByBacktrackingLinesearchState`.
 * The numbers are float64; `grad` is a tree like the params with `storeGrad`, else null.
 *
 * @since 0.3.0
 */
export interface ScaleByBacktrackingLinesearchState {
  /** The learning rate the last search took (1 at init). */
  readonly learningRate: number;
  /** The loss at the params it leads to (Infinity at init). */
  readonly value: number;
  /** The gradient there, with `storeGrad` (zeros at init); else null. */
  readonly grad: PyTree;
  /** How the last search went. */
  readonly info: BacktrackingLinesearchInfo;
}

const BACKTRACKING_INFO = ["numLinesearchSteps", "decreaseError"] as const;

/**
 * Scales the updates by a learning rate of sufficient decrease (Armijo's criterion), found by
 * cutting it from a guess: optax's `scale_by_backtracking_linesearch` (Vaswani et al. 2019;
 * Nocedal and Wright 1999). With `f` the loss, `w` the params and `u` the updates:
 * ```
 * eta = min(increaseFactor * eta_prev, maxLearningRate)
 * while not f(w + eta u) <= (1 + rtol) f(w) + c eta <u, grad f(w)> + atol    (c = slopeRtol)
 *       and fewer than maxBacktrackingSteps cuts:  eta = decreaseFactor * eta
 * u' = eta u      (eta = 0 when the loss was never finite)
 * ```
 * The updates must be a descent direction (`<u, grad f(w)> < 0`, as SGD's are) for the criterion
 * to be reachable.
 *
 * Its update reads `extra.value`, `extra.grad` and `extra.valueFn` (and, with `storeGrad`,
 * `extra.gradFn`, for the gradient at the new params), and throws `MISSING_EXTRA_ARG` naming the
 * one it lacks. Where gradtx differs from optax: with `storeGrad` it needs `gradFn`, as gradtx has
 * no automatic differentiation; `verbose` is not there (see the state's `info`); the numbers are
 * float64.
 *
 * @param options optax's keyword arguments, camelCased; see {@link BacktrackingLinesearchOptions}.
 * @example
 * ```ts
 * import { applyUpdates, chain, scaleByBacktrackingLinesearch, sgd, tree, type PyTree } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3], as optax's docstring
 * const valueFn = (p: PyTree) => tree.vdot(p, p);
 * const solver = chain(sgd(1), scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15 }));
 * const params = Float64Array.of(1, 2, 3);
 * const grad = tree.scale(2, params);
 * const [updates, state] = solver.update(grad, solver.init(params), params, { value: 14, grad, valueFn });
 * state[1].learningRate; // 0.8: the step of 1 does not decrease the loss, one cut does
 * valueFn(applyUpdates(params, updates)); // ≈ 5.04: 0.36 * 14, the 5.04E+00 of optax's docstring
 * ```
 * @since 0.3.0
 */
export function scaleByBacktrackingLinesearch<const O extends BacktrackingLinesearchOptions>(
  options: O,
): GradientTransformationExtraArgs<
  ScaleByBacktrackingLinesearchState,
  BacktrackingLinesearchNeeds | (O["storeGrad"] extends true ? "gradFn" : never)
> {
  const where = "scaleByBacktrackingLinesearch";
  const o = readOptions<BacktrackingLinesearchOptions, readonly (keyof BacktrackingLinesearchOptions)[]>(
    where,
    options,
    [
      "maxBacktrackingSteps",
      "slopeRtol",
      "decreaseFactor",
      "increaseFactor",
      "maxLearningRate",
      "atol",
      "rtol",
      "storeGrad",
    ],
    {
      hint: "optax's scale_by_backtracking_linesearch(max_backtracking_steps=15) is scaleByBacktrackingLinesearch({ maxBacktrackingSteps: 15 })",
    },
  );
  const maxSteps = checkNumber(where, "maxBacktrackingSteps", o.maxBacktrackingSteps, { min: 0, integer: true });
  const c = checkNumber(where, "slopeRtol", o.slopeRtol ?? 1e-4, { min: 0 });
  const decreaseFactor = checkNumber(where, "decreaseFactor", o.decreaseFactor ?? 0.8, {
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
  });
  const increaseFactor = checkNumber(where, "increaseFactor", o.increaseFactor ?? 1.5, { min: 1, infinite: true });
  const maxLr = checkNumber(where, "maxLearningRate", o.maxLearningRate ?? 1, { min: 0, minExclusive: true });
  const atol = checkNumber(where, "atol", o.atol ?? 0, { min: 0 });
  const rtol = checkNumber(where, "rtol", o.rtol ?? 0, { min: 0 });
  const storeGrad = checkBoolean(where, "storeGrad", o.storeGrad ?? false);
  const fields = storeGrad ? "value, grad, valueFn and gradFn" : "value, grad and valueFn";

  const init = (params: PyTree): ScaleByBacktrackingLinesearchState => ({
    learningRate: 1,
    value: Infinity,
    grad: storeGrad ? zerosTree(flatten(params)) : null,
    info: { numLinesearchSteps: 0, decreaseError: Infinity },
  });

  const update = (
    updates: PyTree,
    state: ScaleByBacktrackingLinesearchState,
    params?: PyTree,
    extra?: ExtraArgs,
  ): [PyTree, ScaleByBacktrackingLinesearchState] => {
    const s = searchState<ScaleByBacktrackingLinesearchState>(where, state, BACKTRACKING_INFO);
    const flat = flatten(updates);
    if (storeGrad) stateVector(`${where}: grad`, s.grad, flat);
    else if (s.grad !== null)
      throw new GradTxError("BAD_STATE", `${where}: grad must be null without storeGrad, got ${typeof s.grad}`);
    const line = lineOf(where, updates, params, extra, fields);
    const gradFn = storeGrad ? needed(where, extra, "gradFn", fields) : undefined;
    let eta = Math.min(increaseFactor * s.learningRate, maxLr);
    let value = line.value;
    let grad: FloatArray[] | null = storeGrad ? zerosOf(line.params) : null;
    let error = Infinity;
    let count = 0;
    while (!(error <= atol) && count <= maxSteps) {
      if (count > 0) eta = decreaseFactor * eta;
      const point = pointAt(line, eta);
      value = valueAt(where, line.valueFn, point);
      error = violation(value - (1 + rtol) * line.value - eta * c * line.slope);
      if (gradFn !== undefined && (error <= atol || count === maxSteps))
        grad = gradAt(where, gradFn, point, line.updates, line.params);
      count = count + 1;
    }
    // A loss that was never finite: no step, rather than one into NaN or Infinity.
    const taken = error === Infinity ? 0 : eta;
    return [
      treeLike(line.updates, scaled(taken, line.u)),
      {
        learningRate: taken,
        value,
        grad: grad === null ? null : treeLike(line.params, grad),
        info: { numLinesearchSteps: count, decreaseError: error },
      },
    ];
  };

  return barrier("ScaleByBacktrackingLinesearch", init, update) as never;
}
