/**
 * What the executor runs: a transformation as a small tree of nodes. A kernel is an elementwise
 * declaration; a chain runs its parts in order; Lookahead runs its inner node and, on a sync
 * step, a sync kernel behind a real branch on its count; the combinators (masked,
 * multiTransform, injectHyperparams, applyIfFinite, multiSteps, conditional) run their inner
 * nodes on a part of the leaves, with other numbers, or behind a check; anything else (a user's own
 * `{ init, update }`, or a transformation that is not elementwise) is an opaque barrier that the
 * kernels before and after it still fuse around.
 *
 * Every transformation gradtx builds carries its node (see the executor's `Transformation`);
 * `chain` and the combinators read the nodes of their parts.
 *
 * @module
 */
import type { ExtraArgs, GradientTransformation } from "../core/base.js";
import type { Flat, PyTree } from "../core/pytree.js";
import type { Kernel } from "./kernel.js";

/** What happens to Lookahead's inner state at a sync (see `InnerStatePolicy`). */
export type SyncPolicy = "keep" | "reset" | "interpolate";

/** A transformation, as the executor sees it. */
export type Node =
  | { readonly kind: "kernel"; readonly kernel: Kernel }
  | {
      /**
       * The parts in order. The state is the array of their states, or, with `names` (one per
       * part: optax's `named_chain`), the record of name -> that part's state.
       */
      readonly kind: "chain";
      readonly parts: readonly Node[];
      readonly names?: readonly string[] | undefined;
    }
  | {
      /**
       * The state is `{ count, slow, inner }`, with `innerAtSync` under `"interpolate"` and
       * `adaptive` (`{ count, nu, alpha, estimate }`) with adaptive alpha.
       */
      readonly kind: "lookahead";
      readonly inner: Node;
      readonly syncPeriod: number;
      /**
       * The sync: a kernel with a slot `slow`, reading the params. With adaptive alpha it also
       * reads `g` (the updates Lookahead was given) and either has a slot `nu` (the
       * squared-gradient average) or reads `curvature`, and its scalars `alpha` and `estimate`
       * come from its reductions.
       */
      readonly sync: Kernel;
      readonly policy: SyncPolicy;
      /** The slow step size, or `"adaptive"`: the sync's scalar `alpha`. */
      readonly alpha: number | "adaptive";
      /** With adaptive alpha's average: the kernel that moves `nu` on the other steps (it passes the updates through). */
      readonly track?: Kernel | undefined;
      /** With adaptive alpha and a given curvature: that curvature, shaped like the params. */
      readonly curvature?: PyTree | undefined;
    }
  | {
      /**
       * The inner node on some of the leaves (see views.ts): its state is `{ inner }`, the inner
       * node's state over those leaves, with `null` in place of the others.
       */
      readonly kind: "masked";
      readonly inner: Node;
      /** One boolean per leaf of a tree (the params at init, the updates the node sees at update). */
      readonly select: (tree: Flat) => readonly boolean[];
    }
  | {
      /**
       * A node per label, each on the leaves of its label (a masked node per label, as optax's
       * `multi_transform`): the state is `{ inner: { [label]: that node's state } }`.
       */
      readonly kind: "multiTransform";
      /** One label per leaf of a tree, each one of the parts' (the params at init, the updates at update). */
      readonly labels: (tree: Flat) => readonly string[];
      /** Label -> node, sorted by label. */
      readonly parts: readonly (readonly [string, Node])[];
    }
  | {
      /**
       * Hyperparameters that live in the state, as optax's `inject_hyperparams`: each step plans
       * the inner node built from that step's numbers in place of the inner transformation, so
       * its kernels run with those numbers as their hyperparameters and fuse as usual. The state
       * is `{ count, hyperparams, inner }`.
       */
      readonly kind: "inject";
      /** The hyperparameters of the first step (what init writes into the state). */
      readonly initial: Readonly<Record<string, number>>;
      /** The hyperparameters of the step at `count`: schedules evaluated, the others read from the state's record. */
      readonly hyperparams: (
        count: number,
        current: Readonly<Record<string, unknown>>,
      ) => Readonly<Record<string, number>>;
      /** The inner node built with `hyperparams` (called once per init and once per step). */
      readonly inner: (hyperparams: Readonly<Record<string, number>>) => Node;
      /** The inner node built with the first step's numbers: what a step runs, up to the numbers. */
      readonly template: Node;
    }
  | {
      /**
       * optax's `apply_if_finite`: `check` (a kernel that passes the updates through and whose
       * scalar `finite` is 1 or 0, from a sum over its view) says whether the updates entering
       * the node are finite; the inner node's results are then taken, or zeros and the inner
       * state as it was. The state is `{ notFiniteCount, lastFinite, totalNotFinite, inner }`.
       */
      readonly kind: "applyIfFinite";
      readonly inner: Node;
      readonly maxConsecutiveErrors: number;
      readonly check: Kernel;
      /** The updates, or zeros on a skipped step: a kernel without slots that reads the `gate` scalar. */
      readonly skip: Kernel;
    }
  | {
      /**
       * optax's `MultiSteps`: `accumulate` folds the updates into the running mean (slot
       * `accGrads`, the count its mini-step) and returns zeros; on the k-th mini-step `flush`
       * hands the mean on to the inner node instead and clears the mean. The counts pick the
       * kernel, a real branch. The state is `{ miniStep, gradientStep, accGrads, inner }`.
       */
      readonly kind: "multiSteps";
      readonly inner: Node;
      /** `k` for the inner step `gradientStep` (`INVALID_HYPERPARAMETER` when it is not an integer >= 1). */
      readonly everyKSteps: (gradientStep: number) => number;
      readonly accumulate: Kernel;
      readonly flush: Kernel;
    }
  | {
      /**
       * A kernel whose hyperparameters are numbers kept in the state and moved on the host once
       * per step, from the state's numbers and the step's extra arguments (reduceOnPlateau's
       * scale, from the loss): `advance` gives the next numbers, and the kernel runs with those of
       * its hyperparameters' names, fused with its neighbours. The state is the record of
       * numbers, with the params' `shapes`.
       */
      readonly kind: "stateScalars";
      /** The declaration; its `hyper` are the first step's (and name the numbers it reads). */
      readonly kernel: Kernel;
      /** The numbers at init. */
      readonly initial: Readonly<Record<string, number>>;
      /**
       * The next numbers, from the current ones (checked to be numbers) and the extra arguments:
       * it checks what it reads (`BAD_STATE`, `MISSING_EXTRA_ARG`).
       */
      readonly advance: (
        current: Readonly<Record<string, number>>,
        extra: ExtraArgs | undefined,
      ) => Readonly<Record<string, number>>;
      /**
       * The kernel's hyperparameters for this step, from the next numbers and the extra
       * arguments, where they are not all numbers of the state (scaleByPolyak's loss, which it
       * does not keep); without it, the next numbers of the hyperparameters' names.
       */
      readonly hyper?: (
        next: Readonly<Record<string, number>>,
        extra: ExtraArgs | undefined,
      ) => Readonly<Record<string, number>>;
    }
  | {
      /**
       * optax's `conditionally_transform` and `conditionally_mask`: `when` (a host function of the
       * step count and the step's extra arguments) picks, a real branch, between the inner node
       * and `otherwise` (a kernel without slots, such as zeros; none: the updates pass through),
       * and the inner state stands still on the steps it does not run. The state is
       * `{ step, innerState }`.
       */
      readonly kind: "conditional";
      /** The combinator's name, for errors. */
      readonly name: string;
      readonly inner: Node;
      readonly when: (step: number, extra: ExtraArgs | undefined) => boolean;
      readonly otherwise: Kernel | undefined;
    }
  | {
      readonly kind: "opaque";
      readonly tx: GradientTransformation<unknown>;
      /** What `compile` calls it in `run.reason` (otherwise, the class of `tx`). */
      readonly name?: string;
    };

/** The nodes directly inside `node`. */
export function childrenOf(node: Node): readonly Node[] {
  switch (node.kind) {
    case "kernel":
    case "opaque":
      return [];
    case "chain":
      return node.parts;
    case "lookahead":
      return [node.inner, { kind: "kernel", kernel: node.sync }];
    case "masked":
      return [node.inner];
    case "multiTransform":
      return node.parts.map(([, part]) => part);
    case "inject":
      return [node.template];
    case "applyIfFinite":
      return [{ kind: "kernel", kernel: node.check }, node.inner, { kind: "kernel", kernel: node.skip }];
    case "multiSteps":
      return [{ kind: "kernel", kernel: node.flush }, node.inner];
    case "stateScalars":
      return [{ kind: "kernel", kernel: node.kernel }];
    case "conditional":
      return node.otherwise === undefined ? [node.inner] : [node.inner, { kind: "kernel", kernel: node.otherwise }];
  }
}
