/**
 * Lookahead's `innerState: "interpolate"`: the inner state moves at a sync the way the weights
 * do. It runs once the sync step's passes have run, over the inner state they produced (and with
 * adaptive alpha, the alpha its reductions chose), once every `syncPeriod` steps.
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import { asLeafLike, dataOf, isFloatArray, isLeaf, MAX_DEPTH, type FloatArray } from "../core/pytree.js";

/**
 * Moves every float array of `current` from its value in `atSync`: `atSync + alpha * (current -
 * atSync)`, computed in float64 and stored in the array's dtype (an ndarray keeps its shape).
 * A record of shapes moves too and stays as it is: it is the same at both ends, and alpha is
 * finite. Numbers (step counts) and everything else are kept as `current` has them; a layout
 * that changed since `atSync`, or one nested deeper than `MAX_DEPTH`, is `BAD_STATE`.
 */
export function interpolateState(atSync: unknown, current: unknown, alpha: number, where: string, depth = 0): unknown {
  if (depth > MAX_DEPTH)
    throw new GradTxError("BAD_STATE", `lookahead: the inner state is nested deeper than ${MAX_DEPTH} levels`, where);
  if (isFloatArray(current)) {
    if (!isFloatArray(atSync) || atSync.length !== current.length)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    const out = new (current instanceof Float32Array ? Float32Array : Float64Array)(current.length);
    for (let j = 0; j < out.length; j++) out[j] = atSync[j]! + alpha * (current[j]! - atSync[j]!);
    return out;
  }
  // An ndarray leaf moves as its elements do, and keeps its shape.
  if (isLeaf(current))
    return asLeafLike(
      current,
      interpolateState(isLeaf(atSync) ? dataOf(atSync) : atSync, dataOf(current), alpha, where, depth) as FloatArray,
    );
  if (Array.isArray(current)) {
    if (!Array.isArray(atSync) || atSync.length !== current.length)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    return current.map((c: unknown, i) => interpolateState(atSync[i], c, alpha, `${where}[${i}]`, depth + 1));
  }
  if (typeof current === "object" && current !== null && !ArrayBuffer.isView(current)) {
    if (typeof atSync !== "object" || atSync === null)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(current))
      out[key] = interpolateState((atSync as Record<string, unknown>)[key], value, alpha, `${where}.${key}`, depth + 1);
    return out;
  }
  return current;
}
