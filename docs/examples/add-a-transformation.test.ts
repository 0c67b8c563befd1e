/**
 * The worked example of docs/architecture.md: a transformation added to gradtx as one
 * declaration, and its test. It runs as part of `npm test`, so it stays true.
 */
import { describe, expect, it } from "vitest";
import { chain, compile, lookahead, scaleByLearningRate, type GradientTransformation } from "gradtx";
import { withBackend } from "../../src/kernels/backend.js";
import { elementwise } from "../../src/kernels/executor.js";
import { add, mul, sign } from "../../src/kernels/expr.js";
import { declare } from "../../src/kernels/kernel.js";

/** The state of {@link scaleBySignMomentum}. */
interface SignMomentumState {
  readonly momentum: Float64Array | Float32Array | object;
}

/**
 * Signum's rescaling (Bernstein et al., 2018): the sign of a momentum of the updates.
 *
 * ```
 * m  = beta m + (1 - beta) g
 * u' = sign(m)
 * ```
 */
function scaleBySignMomentum(beta = 0.9): GradientTransformation<SignMomentumState> {
  return elementwise<SignMomentumState>(
    declare({
      name: "scaleBySignMomentum",
      slots: { momentum: 0 },
      hyper: { beta },
      scalars: (h) => ({ oneMinusBeta: 1 - h.beta }),
      body: ({ x, momentum }, s) => {
        const m = add(mul(s.beta, momentum), mul(s.oneMinusBeta, x));
        return { update: sign(m), momentum: m };
      },
    }),
  );
}

describe("a transformation declared once runs on every path with the same bits", () => {
  const g = Float64Array.of(2, -0.5, 0, -0);
  const tx = scaleBySignMomentum(0.5);

  it("first step by hand: m = 0.5 * 0 + 0.5 g, and its sign", () => {
    const [u, state] = tx.update(g, tx.init(g));
    // For g = -0, m = (+0) + (-0) = +0 in IEEE arithmetic, so its sign is +0 too.
    expect(Array.from(u as Float64Array)).toEqual([1, -1, 0, 0]);
    expect(Array.from(state.momentum as Float64Array)).toEqual([1, -0.25, 0, 0]);
  });

  it("WebAssembly, JavaScript and compile agree, inside Lookahead too", () => {
    const opt = lookahead(chain(scaleBySignMomentum(0.5), scaleByLearningRate(0.1)), { syncPeriod: 2 });
    const params = Float64Array.of(1, 2, 3, 4);
    const steps = (backend: "wasm" | "js") =>
      withBackend(backend, () => {
        let p = params;
        let s = opt.init(p);
        for (let t = 0; t < 4; t++) {
          const [u, next] = opt.update(g, s, p);
          p = Float64Array.from(p, (x, j) => x + (u as Float64Array)[j]!);
          s = next;
        }
        return Array.from(p);
      });
    const run = compile(opt, params);
    for (let t = 0; t < 4; t++) run.step(g);
    expect(steps("js")).toEqual(steps("wasm"));
    expect(Array.from(run.params)).toEqual(steps("wasm"));
  });
});
