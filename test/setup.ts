/**
 * Property tests explore new cases on every local run; under CI they replay one fixed seed, so
 * that a run is reproducible and a failure can be replayed exactly (set FC_SEED to choose one).
 */
import * as fc from "fast-check";

const seed = process.env.FC_SEED ?? (process.env.CI ? "20190719" : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });
