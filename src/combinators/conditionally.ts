/**
 * Running a transformation at some steps only: `conditionallyTransform`, `conditionallyMask`.
 *
 * @module
 */
import type { ExtraArgs, ExtraArgsNeeded, GradientTransformation, StateOf, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { buildKernel, type Kernel } from "../kernels/kernel.js";
import { ZEROS } from "../transforms/zero.js";
import { checkBoolean, checkTransformation, readOptions } from "../core/validate.js";
import { checkCallback } from "./stateless.js";

/**
 * Whether the inner transformation runs at a step, from the step count (0 at the first step)
 * and, with `forwardExtraArgs`, the step's extra arguments (`{}` when the caller gave none), as
 * optax's `ConditionFn`. It must return a boolean.
 *
 * @since 0.3.0
 */
export type ConditionFn = (step: number, extra?: ExtraArgs) => boolean;

/** The options of {@link conditionallyTransform} and {@link conditionallyMask}. @since 0.3.0 */
export interface ConditionallyOptions {
  /** Hand the step's extra arguments to `shouldTransform` too (default false, as optax). */
  readonly forwardExtraArgs?: boolean;
}

/**
 * The state of {@link conditionallyTransform} and {@link conditionallyMask} (optax's
 * `ConditionallyTransformState` and `ConditionallyMaskState`, camelCased).
 *
 * @since 0.3.0
 */
export interface ConditionallyState<S> {
  /** Steps taken, whether the inner transformation ran or not: the next step's count. */
  readonly step: number;
  /** The inner transformation's state (unchanged by the steps it does not run). */
  readonly innerState: S;
}

const ZERO_KERNEL = buildKernel(ZEROS);

/** The node both combinators build. */
function conditional(
  where: string,
  optaxName: string,
  inner: unknown,
  shouldTransform: unknown,
  options: ConditionallyOptions | null | undefined,
  otherwise: Kernel | undefined,
): Transformation<unknown> {
  checkTransformation(where, inner);
  checkCallback(where, "shouldTransform", shouldTransform, "a function (step, extra?) => boolean");
  const forward = checkBoolean(
    where,
    "forwardExtraArgs",
    readOptions(where, options, ["forwardExtraArgs"], {
      hint: `optax's ${optaxName}(inner, should_transform_fn, forward_extra_args) is ${where}(inner, shouldTransform, { forwardExtraArgs: true })`,
      aliases: { forward_extra_args: "forwardExtraArgs" },
    }).forwardExtraArgs ?? false,
  );
  const fn = shouldTransform as ConditionFn;
  return new Transformation({
    kind: "conditional",
    name: where,
    inner: nodeOf(inner as GradientTransformation<unknown>),
    when: (step, extra) => {
      const runs: unknown = forward ? fn(step, extra ?? {}) : fn(step);
      if (typeof runs !== "boolean")
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `${where}: shouldTransform gave ${typeof runs} at step ${step}, not a boolean`,
        );
      return runs;
    },
    otherwise,
  });
}

/**
 * Runs `inner` at the steps `shouldTransform` chooses and passes the updates through unchanged at
 * the others, as optax's `conditionally_transform`; the inner state only moves on the steps it
 * runs. `shouldTransform` is called on the host with the step count, a real branch: on the
 * other steps nothing of `inner` runs. Its kernels fuse with their neighbours and compile.
 *
 * ```
 * shouldTransform(step):  u', innerState' = inner.update(u, innerState, params, extra)
 * otherwise:              u' = u,  innerState' = innerState
 * step' = step + 1
 * ```
 *
 * The result needs the `extra` fields `inner` needs.
 *
 * @param inner The transformation to run at some steps.
 * @param shouldTransform `(step, extra?) => boolean`, {@link ConditionFn}.
 * @param options `forwardExtraArgs`.
 * @example
 * ```ts
 * import { conditionallyTransform, scale } from "gradtx";
 * // optax's test: scale(2) for the first 3 steps, then the updates as they are.
 * const tx = conditionallyTransform(scale(2), (step) => step < 3);
 * let state = tx.init(Float64Array.of(0));
 * const out: number[] = [];
 * for (let i = 0; i < 5; i++) {
 *   const [u, next] = tx.update(Float64Array.of(1), state);
 *   out.push((u as Float64Array)[0]!);
 *   state = next;
 * }
 * out; // [2, 2, 2, 1, 1]
 * state.step; // 5
 * ```
 * @since 0.3.0
 */
export function conditionallyTransform<T extends GradientTransformation<unknown>>(
  inner: T,
  shouldTransform: ConditionFn,
  options?: ConditionallyOptions | null,
): WithExtraArgs<ConditionallyState<StateOf<T>>, ExtraArgsNeeded<T>> {
  return conditional(
    "conditionallyTransform",
    "conditionally_transform",
    inner,
    shouldTransform,
    options,
    undefined,
  ) as never;
}

/**
 * Runs `inner` at the steps `shouldTransform` chooses and returns zero updates at the others,
 * as optax's `conditionally_mask`; the inner state only moves on the steps it runs. As
 * {@link conditionallyTransform}, but the steps it skips leave the params where they are.
 *
 * ```
 * shouldTransform(step):  u', innerState' = inner.update(u, innerState, params, extra)
 * otherwise:              u' = 0,  innerState' = innerState
 * step' = step + 1
 * ```
 *
 * The result needs the `extra` fields `inner` needs.
 *
 * @param inner The transformation to run at some steps.
 * @param shouldTransform `(step, extra?) => boolean`, {@link ConditionFn}.
 * @param options `forwardExtraArgs`.
 * @example
 * ```ts
 * import { conditionallyMask, sgd } from "gradtx";
 * // Train only while the loss is above 0.1: the loss is handed to the condition.
 * const tx = conditionallyMask(sgd(0.5), (_step, extra) => (extra?.value ?? Infinity) > 0.1, { forwardExtraArgs: true });
 * const p = Float64Array.of(1);
 * const [u0] = tx.update(Float64Array.of(2), tx.init(p), p, { value: 1 });
 * const [u1] = tx.update(Float64Array.of(2), tx.init(p), p, { value: 0.01 });
 * u0; // Float64Array.of(-1)
 * u1; // Float64Array.of(0)
 * ```
 * @since 0.3.0
 */
export function conditionallyMask<T extends GradientTransformation<unknown>>(
  inner: T,
  shouldTransform: ConditionFn,
  options?: ConditionallyOptions | null,
): WithExtraArgs<ConditionallyState<StateOf<T>>, ExtraArgsNeeded<T>> {
  return conditional("conditionallyMask", "conditionally_mask", inner, shouldTransform, options, ZERO_KERNEL) as never;
}
