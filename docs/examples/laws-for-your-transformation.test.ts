/**
 * How to test your own transformation with gradtx/laws: the complete example of docs/laws.md.
 * It runs as part of `npm test`, so it stays true.
 */
import { describe, expect, it } from "vitest";
import { tree, type GradientTransformation, type PyTree } from "gradtx";
import {
  checkChainAssociativity,
  checkLookaheadLaws,
  checkTransformationLaws,
  LawViolation,
  arbitraryProblem,
} from "gradtx/laws";

/** Sign descent with a fixed step: u' = -step * sign(u). Stateless, elementwise, pure. */
function signDescent(step: number): GradientTransformation<Record<string, never>> {
  return {
    init: () => ({}),
    update: (updates, state) => [
      tree.map((leaf) => {
        const data = (leaf instanceof Float32Array || leaf instanceof Float64Array ? leaf : leaf.data) as Float64Array;
        return data.map((x) => -step * Math.sign(x)) as Float64Array;
      }, updates),
      state,
    ],
  };
}

describe("signDescent obeys the laws", () => {
  it("is pure, deterministic, preserves structure and dtypes, and is a unit-respecting chain citizen", () => {
    // Flat leaves only: this toy returns plain arrays, so it opts out of ndarray leaves.
    checkTransformationLaws(signDescent(0.01), { numRuns: 50, problems: arbitraryProblem({ ndarrays: false }) });
  });

  it("composes associatively with other transformations", () => {
    const problems = arbitraryProblem({ ndarrays: false });
    checkChainAssociativity(signDescent(0.1), signDescent(1), signDescent(2), { numRuns: 30, problems });
  });

  it("works as Lookahead's inner optimizer, with every Lookahead law", () => {
    checkLookaheadLaws({
      numRuns: 30,
      inners: [(lr) => signDescent(lr)],
      problems: arbitraryProblem({ ndarrays: false }),
    });
  });

  it("and a broken variant is caught, with the law in words and a counterexample", () => {
    const leaky: GradientTransformation = {
      init: () => ({}),
      update(updates, state) {
        for (const leaf of tree.leaves(updates)) if (leaf instanceof Float64Array) leaf.fill(0); // mutates!
        return [updates as PyTree, state];
      },
    };
    expect(() => checkTransformationLaws(leaky, { numRuns: 50 })).toThrowError(LawViolation);
  });
});
