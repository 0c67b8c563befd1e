/**
 * Checkpoints: optimizer states and params to bytes and back, bit for bit.
 *
 * The format (version 2, little-endian; version 1 is read too):
 *
 * ```
 * offset 0   4 bytes   magic: the ASCII bytes "GTXS" (a state) or "GTXP" (params)
 * offset 4   u32       format version (2)
 * offset 8   u32       payload length in bytes, n
 * offset 12  n bytes   payload: one value, encoded depth-first
 * offset 12+n u32      CRC-32 (IEEE) of bytes 0 .. 12+n
 * ```
 *
 * A value is a tag byte and its body: `0` null, `1` undefined, `2` false, `3` true, `4` a
 * number (f64), `5` a string (u32 byte length, UTF-8), `6` a Float32Array and `7` a
 * Float64Array (u32 element count, 4-byte-aligned padding to the element size, the elements),
 * `8` an array (u32 count, the items), `9` a plain object (u32 count, then each key as a string
 * body and its value, keys sorted), `10` an ndarray (u32 rank, the shape as u32s, then a typed
 * array value).
 *
 * @module
 */
import ndarray from "ndarray";
import { GradTxError } from "../core/errors.js";
import { checkNotSpent } from "../core/donate.js";
import {
  dataOf,
  flatten,
  isFloatArray,
  isLeaf,
  MAX_DEPTH,
  sizeOf,
  unflatten,
  type AsPyTree,
  type FloatArray,
  type FloatNdArray,
  type PyTree,
  type PyTreeLike,
} from "../core/pytree.js";

const VERSION = 2;
/**
 * Version 1 (gradtx 0.2) wrote the same bytes, for states of another layout: no `shapes` record
 * in the states of transformations that keep no tree like the params, and typed arrays where
 * state trees now keep the params' ndarray leaves. Such a blob is read into the layout of today's
 * template, which has both.
 */
const LEGACY = 1;
const MAGIC_STATE = 0x53585447; // "GTXS" read as a little-endian u32
const MAGIC_PARAMS = 0x50585447; // "GTXP"
const HEADER = 12;
// Typed arrays use the platform's byte order; the format is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const enum Tag {
  Null = 0,
  Undefined = 1,
  False = 2,
  True = 3,
  Number = 4,
  String = 5,
  Float32 = 6,
  Float64 = 7,
  Array = 8,
  Object = 9,
  NdArray = 10,
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function badState(message: string, path?: string): GradTxError {
  return new GradTxError("BAD_STATE", message, path);
}

/** Grows a byte buffer as values are written. */
class Writer {
  bytes = new Uint8Array(1024);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(x: number): void {
    this.reserve(1);
    this.bytes[this.length++] = x;
  }
  u32(x: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  f64(x: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, x, true);
    this.length += 8;
  }
  string(s: string): void {
    const b = encoder.encode(s);
    this.u32(b.length);
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
  floats(data: FloatArray): void {
    this.u8(data instanceof Float32Array ? Tag.Float32 : Tag.Float64);
    this.u32(data.length);
    const size = data.BYTES_PER_ELEMENT;
    this.reserve(size + data.byteLength);
    while (this.length % size !== 0) this.bytes[this.length++] = 0;
    // Stryker disable all: the two branches write the same bytes, and a machine runs only the one of its byte order
    if (LITTLE_ENDIAN) this.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.length);
    else
      for (let i = 0; i < data.length; i++)
        if (size === 4) this.view.setFloat32(this.length + 4 * i, data[i]!, true);
        else this.view.setFloat64(this.length + 8 * i, data[i]!, true);
    // Stryker restore all
    this.length += data.byteLength;
  }
}

/**
 * Writes one value depth-first. `ancestors` holds the containers above it: a state that holds
 * itself, or nests deeper than {@link MAX_DEPTH}, is refused before the stack runs out.
 */
function writeValue(w: Writer, value: unknown, path: string, ancestors: object[]): void {
  if (typeof value === "object" && value !== null && !isFloatArray(value)) {
    if (ancestors.includes(value)) throw badState("cannot serialize a state that contains itself (a cycle)", path);
    if (ancestors.length >= MAX_DEPTH)
      throw badState(`cannot serialize a state nested deeper than ${MAX_DEPTH} levels`, path);
  }
  if (value === null) w.u8(Tag.Null);
  else if (value === undefined) w.u8(Tag.Undefined);
  else if (value === false) w.u8(Tag.False);
  else if (value === true) w.u8(Tag.True);
  else if (typeof value === "number") {
    w.u8(Tag.Number);
    w.f64(value);
  } else if (typeof value === "string") {
    w.u8(Tag.String);
    w.string(value);
  } else if (isFloatArray(value)) w.floats(value);
  else if (Array.isArray(value)) {
    w.u8(Tag.Array);
    w.u32(value.length);
    ancestors.push(value);
    value.forEach((item: unknown, i) => writeValue(w, item, `${path}[${i}]`, ancestors));
    ancestors.pop();
  } else if (typeof value === "object" && isNdArray(value)) {
    if (!isLeaf(value))
      throw badState(
        "cannot serialize a malformed ndarray: its shape, strides and offset reach outside its data",
        path,
      );
    w.u8(Tag.NdArray);
    w.u32(value.shape.length);
    for (const n of value.shape) w.u32(n);
    w.floats(dataOf(value));
  } else if (typeof value === "object" && isPlain(value)) {
    const keys = Object.keys(value).sort();
    w.u8(Tag.Object);
    w.u32(keys.length);
    ancestors.push(value);
    for (const key of keys) {
      w.string(key);
      writeValue(w, (value as Record<string, unknown>)[key], path === "" ? key : `${path}.${key}`, ancestors);
    }
    ancestors.pop();
  } else
    throw badState(
      `cannot serialize ${typeof value === "object" ? "this object" : `a ${typeof value}`}: states are plain data`,
      path,
    );
}

function isPlain(x: object): boolean {
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function isNdArray(x: object): x is FloatNdArray {
  const o = x as Record<string, unknown>;
  return Array.isArray(o.shape) && Array.isArray(o.stride) && typeof o.offset === "number" && isFloatArray(o.data);
}

function encode(magic: number, value: unknown): Uint8Array {
  const w = new Writer();
  w.u32(magic);
  w.u32(VERSION);
  w.u32(0);
  writeValue(w, value, "", []);
  w.view.setUint32(8, w.length - HEADER, true);
  const crc = crc32(w.bytes.subarray(0, w.length));
  w.u32(crc);
  return w.bytes.slice(0, w.length);
}

/** Reads values back, checking every length against the bytes that are really there. */
class Reader {
  offset = HEADER;
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    readonly end: number,
    /** Whether the blob is a state of {@link LEGACY} layout. */
    readonly legacy: boolean,
  ) {}

  /** `n` is never negative: every length read is a u32, or a product of one. */
  need(n: number, what: string): void {
    if (this.offset + n > this.end) throw badState(`truncated or corrupted: ${what} runs past the end of the data`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const x = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return x;
  }
  f64(what: string): number {
    this.need(8, what);
    const x = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return x;
  }
  string(what: string): string {
    const n = this.u32(what);
    this.need(n, what);
    try {
      return decoder.decode(this.bytes.subarray(this.offset, (this.offset += n)));
    } catch {
      throw badState(`corrupted: ${what} is not UTF-8`);
    }
  }
  floats(tag: number, what: string): FloatArray {
    const n = this.u32(what);
    const size = tag === Tag.Float32 ? 4 : 8;
    while (this.offset % size !== 0) this.u8(what);
    this.need(n * size, what);
    // A fresh array: nothing read shares memory with the caller's bytes.
    const out = size === 4 ? new Float32Array(n) : new Float64Array(n);
    // Stryker disable all: the two branches read the same numbers, and a machine runs only the one of its byte order
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(this.bytes.subarray(this.offset, this.offset + n * size));
    else
      for (let i = 0; i < n; i++)
        out[i] =
          size === 4
            ? this.view.getFloat32(this.offset + 4 * i, true)
            : this.view.getFloat64(this.offset + 8 * i, true);
    // Stryker restore all
    this.offset += n * size;
    return out;
  }
}

/**
 * Reads the value at the reader's position, shaped by `template` (which gives the kinds, keys
 * and lengths to expect, and is never modified).
 */
function readValue(r: Reader, template: unknown, path: string, depth: number): unknown {
  // No writer nests deeper (serializeState refuses to), so deeper bytes are not gradtx's.
  if (depth > MAX_DEPTH) throw badState(`corrupted: values nested deeper than ${MAX_DEPTH} levels`, path);
  const tag = r.u8(`the value at ${path || "(root)"}`);
  const mismatch = (what: string): never => {
    throw badState(`this blob does not fit the template (another optimizer or another tree?): ${what}`, path);
  };
  switch (tag) {
    case Tag.Null:
    case Tag.Undefined: {
      const value = tag === Tag.Null ? null : undefined;
      if (template !== value) mismatch(`expected ${describe(template)}, found ${String(value)}`);
      return value;
    }
    case Tag.False:
    case Tag.True: {
      if (typeof template !== "boolean") mismatch(`expected ${describe(template)}, found a boolean`);
      return tag === Tag.True;
    }
    case Tag.Number: {
      const x = r.f64("a number");
      if (typeof template !== "number") mismatch(`expected ${describe(template)}, found a number`);
      return x;
    }
    case Tag.String: {
      const s = r.string("a string");
      if (typeof template !== "string") mismatch(`expected ${describe(template)}, found a string`);
      return s;
    }
    case Tag.Float32:
    case Tag.Float64: {
      const data = r.floats(tag, "a typed array");
      const kind = tag === Tag.Float32 ? Float32Array : Float64Array;
      if (r.legacy && typeof template === "object" && template !== null && isNdArray(template)) {
        const t = template as FloatNdArray;
        if (t.data instanceof kind && sizeOf(t) === data.length) return ndarray(data, t.shape.slice());
      }
      if (!(template instanceof kind) || template.length !== data.length)
        mismatch(`expected ${describe(template)}, found a ${kind.name} of length ${data.length}`);
      return data;
    }
    case Tag.Array: {
      const n = r.u32("an array length");
      if (!Array.isArray(template) || template.length !== n)
        mismatch(`expected ${describe(template)}, found an array of length ${n}`);
      const items = template as unknown[];
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(r, items[i], `${path}[${i}]`, depth + 1));
      return out;
    }
    case Tag.Object: {
      const n = r.u32("an object size");
      if (typeof template !== "object" || template === null || Array.isArray(template) || isFloatArray(template))
        mismatch(`expected ${describe(template)}, found an object`);
      let expectedKeys = Object.keys(template as object).sort();
      // A legacy state has no record of the shapes: the template's is the one it was made for.
      const shapes = r.legacy && expectedKeys.length === n + 1 && expectedKeys.includes("shapes");
      if (shapes) expectedKeys = expectedKeys.filter((key) => key !== "shapes");
      if (expectedKeys.length !== n) mismatch(`expected keys [${expectedKeys.join(",")}], found ${n} keys`);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = r.string("an object key");
        if (key !== expectedKeys[i])
          mismatch(`expected key ${JSON.stringify(expectedKeys[i])}, found ${JSON.stringify(key)}`);
        out[key] = readValue(
          r,
          (template as Record<string, unknown>)[key],
          path === "" ? key : `${path}.${key}`,
          depth + 1,
        );
      }
      if (shapes) out.shapes = copyShapes((template as { shapes: unknown }).shapes, path);
      return out;
    }
    case Tag.NdArray: {
      const rank = r.u32("an ndarray rank");
      const shape: number[] = [];
      for (let i = 0; i < rank; i++) shape.push(r.u32("an ndarray shape"));
      const dataTag = r.u8("ndarray data");
      if (dataTag !== Tag.Float32 && dataTag !== Tag.Float64)
        throw badState(`corrupted: bad ndarray data tag ${dataTag}`, path);
      const data = r.floats(dataTag, "ndarray data");
      if (typeof template !== "object" || template === null || !isNdArray(template))
        mismatch(`expected ${describe(template)}, found an ndarray`);
      const t = template as FloatNdArray;
      if (t.shape.length !== rank || t.shape.some((n, i) => n !== shape[i]))
        mismatch(`expected an ndarray of shape [${t.shape.join(",")}], found [${shape.join(",")}]`);
      const kind = t.data instanceof Float32Array ? Float32Array : Float64Array;
      if (!(data instanceof kind))
        mismatch(`expected an ndarray over a ${kind.name}, found one over a ${data.constructor.name}`);
      return ndarray(data, shape);
    }
    default:
      throw badState(`corrupted: unknown value tag ${tag}`, path);
  }
}

/** A copy of a template's record of shapes, read into a legacy state. */
function copyShapes(shapes: unknown, path: string): PyTree {
  let flat;
  try {
    flat = flatten(shapes);
  } catch {
    throw badState("the template's shapes record is not a pytree", path);
  }
  return unflatten(
    flat.def,
    flat.leaves.map((leaf) => Float64Array.from(dataOf(leaf))),
  );
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === "boolean") return "a boolean";
  if (typeof x === "number") return "a number";
  if (typeof x === "string") return "a string";
  if (isFloatArray(x)) return `a ${x instanceof Float32Array ? "Float32Array" : "Float64Array"} of length ${x.length}`;
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  return "an object";
}

function decode(magic: number, kind: string, bytes: Uint8Array, template: unknown): unknown {
  if (!(bytes instanceof Uint8Array)) throw badState(`deserialize${kind}: expected a Uint8Array, got ${typeof bytes}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER + 4)
    throw badState(`truncated: ${bytes.length} bytes is shorter than any gradtx checkpoint`);
  const foundMagic = view.getUint32(0, true);
  if (foundMagic !== magic) {
    const other = foundMagic === MAGIC_STATE ? "an optimizer state" : foundMagic === MAGIC_PARAMS ? "params" : null;
    throw badState(
      other
        ? `this blob holds ${other}; use deserialize${other === "params" ? "Params" : "State"}`
        : "not a gradtx checkpoint (bad magic bytes)",
    );
  }
  const version = view.getUint32(4, true);
  if (version !== VERSION && version !== LEGACY)
    throw badState(
      `format version ${version} is not supported by this gradtx (it reads versions ${LEGACY} and ${VERSION}); ${version > VERSION ? "upgrade gradtx" : "the blob is corrupted"}`,
    );
  const length = view.getUint32(8, true);
  if (HEADER + length + 4 !== bytes.length)
    throw badState(`truncated or padded: the header announces ${HEADER + length + 4} bytes, got ${bytes.length}`);
  const stored = view.getUint32(HEADER + length, true);
  if (crc32(bytes.subarray(0, HEADER + length)) !== stored) throw badState("corrupted: checksum mismatch");
  const reader = new Reader(bytes, view, HEADER + length, version === LEGACY && magic === MAGIC_STATE);
  const value = readValue(reader, template, "", 0);
  if (reader.offset !== HEADER + length)
    throw badState(`corrupted: ${HEADER + length - reader.offset} bytes left after the value`);
  return value;
}

/**
 * Serializes an optimizer state (any state gradtx produces: nested chains, Lookahead's slow
 * weights and counter, its interpolation cache) to a versioned, checksummed byte format.
 * Round-trips bit for bit with {@link deserializeState}.
 *
 * @example
 * ```ts
 * import { adam, lookahead, serializeState, deserializeState } from "gradtx";
 * const opt = lookahead(adam(1e-3));
 * const params = { w: new Float32Array(4) };
 * const bytes = serializeState(opt.init(params));
 * const state = deserializeState(bytes, opt.init(params));
 * ```
 * @since 0.1.0
 */
export function serializeState(state: unknown): Uint8Array {
  checkNotSpent("serializeState", state);
  return encode(MAGIC_STATE, state);
}

/**
 * Reads a state written by {@link serializeState}. `template` is a state of the same
 * transformation over the same tree (e.g. `tx.init(params)`): it gives the structure to expect
 * and is not modified. A truncated, corrupted or mismatched blob throws `BAD_STATE`; nothing
 * half-read is ever returned, and the result shares no memory with `bytes`.
 *
 * @example
 * ```ts
 * import { sgd, serializeState, deserializeState } from "gradtx";
 * const opt = sgd(0.1, { momentum: 0.9 });
 * const p = Float64Array.of(1, 2);
 * const restored = deserializeState(serializeState(opt.init(p)), opt.init(p));
 * ```
 * @since 0.1.0
 */
export function deserializeState<S>(bytes: Uint8Array, template: S): S {
  return decode(MAGIC_STATE, "State", bytes, template) as S;
}

/**
 * Serializes params (a pytree; ndarray leaves keep their shape) in the same format as states.
 *
 * @example
 * ```ts
 * import { serializeParams, deserializeParams } from "gradtx";
 * const params = { w: Float32Array.of(1, 2) };
 * const copy = deserializeParams(serializeParams(params), params);
 * ```
 * @since 0.1.0
 */
export function serializeParams<P>(params: PyTree | AsPyTree<P>): Uint8Array {
  const flat = flatten(params);
  return encode(MAGIC_PARAMS, unflatten(flat.def, flat.leaves));
}

/**
 * Reads params written by {@link serializeParams}, shaped by `template` (params of the same
 * tree), as new arrays of the template's dtypes and kinds, so typed as the template is. Errors as
 * {@link deserializeState}.
 *
 * @example
 * ```ts
 * import { serializeParams, deserializeParams } from "gradtx";
 * const params = { w: Float64Array.of(1, 2) };
 * deserializeParams(serializeParams(params), params); // { w: Float64Array.of(1, 2) }
 * ```
 * @since 0.1.0
 */
export function deserializeParams<P extends PyTree | PyTreeLike<P>>(bytes: Uint8Array, template: P): P {
  flatten(template);
  return decode(MAGIC_PARAMS, "Params", bytes, template) as P;
}
