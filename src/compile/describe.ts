/**
 * What `compile` needs to know about a transformation: a plain description of what it computes,
 * kept under a hidden symbol key beside the closures. A transformation without one (a user's own,
 * or one the compiler does not know) runs on the pure path.
 *
 * @module
 */
import type { GradientTransformation, Schedule } from "../base.js";
import type { Mask } from "../transforms/adding.js";

/** What a transformation computes, in the terms `compile` understands. */
export type Description =
  | { readonly kind: "identity" }
  | { readonly kind: "scale"; readonly step: number }
  | { readonly kind: "scaleBySchedule"; readonly schedule: Schedule }
  | { readonly kind: "clipByGlobalNorm"; readonly maxNorm: number }
  | { readonly kind: "addDecayedWeights"; readonly weightDecay: number; readonly mask: Mask | undefined }
  | {
      readonly kind: "scaleByAdam";
      readonly b1: number;
      readonly b2: number;
      readonly eps: number;
      readonly epsRoot: number;
      readonly nesterov: boolean;
    }
  | { readonly kind: "trace"; readonly decay: number; readonly nesterov: boolean }
  | { readonly kind: "chain"; readonly parts: readonly GradientTransformation<unknown>[] }
  | {
      readonly kind: "lookahead";
      readonly inner: GradientTransformation<unknown>;
      readonly syncPeriod: number;
      readonly alpha: number;
      readonly innerState: "keep" | "reset" | "interpolate";
    };

/** The key of a transformation's {@link Description}. */
export const DESCRIPTION: unique symbol = Symbol("gradtx.description");

/** Returns `tx` with its description attached (hidden from its public type). */
export function described<T extends object>(tx: T, description: Description): T {
  return Object.assign(tx, { [DESCRIPTION]: description });
}

/** The description of `tx`, if it has one. */
export function descriptionOf(tx: object): Description | undefined {
  return (tx as { [DESCRIPTION]?: Description })[DESCRIPTION];
}
