/**
 * The checkpoint byte format, pinned: golden blobs written here from the format's description
 * (src/checkpoints/serialize.ts), and damaged blobs whose checksum is recomputed, so that each check behind
 * the checksum (bounds, trailing bytes, tags, the template) is reached and must hold by itself.
 */
import ndarray from "ndarray";
import { describe, expect, it } from "vitest";
import { deserializeParams, deserializeState, serializeParams, serializeState, type PyTree } from "../src/index.js";

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit, from the standard. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Writes bytes as the format describes them, little-endian. */
class Bytes {
  readonly out: number[] = [];
  u8(...xs: number[]): this {
    this.out.push(...xs);
    return this;
  }
  u32(x: number): this {
    return this.u8(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff);
  }
  f64(x: number): this {
    return this.u8(...new Uint8Array(Float64Array.of(x).buffer));
  }
  f32(x: number): this {
    return this.u8(...new Uint8Array(Float32Array.of(x).buffer));
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).u8(...b);
  }
  /** Zero bytes up to a multiple of `size`, counted from the start of the blob (the header is 12 bytes). */
  pad(size: number): this {
    while ((12 + this.out.length) % size !== 0) this.out.push(0);
    return this;
  }
}

/** A blob: magic ("GTXS" or "GTXP"), version, payload length, payload, CRC-32 of all before it. */
function blob(payload: Bytes | number[], magic = "GTXS", version = 2, length?: number): Uint8Array {
  const body = Array.isArray(payload) ? payload : payload.out;
  const head = new Bytes()
    .u8(...new TextEncoder().encode(magic))
    .u32(version)
    .u32(length ?? body.length);
  const bytes = Uint8Array.from([...head.out, ...body]);
  return Uint8Array.from([...bytes, ...new Bytes().u32(crc32(bytes)).out]);
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

describe("the CRC-32 written here", () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

describe("golden blobs: the byte format does not change unnoticed", () => {
  it("null, as a literal: GTXS, version 2, one payload byte (tag 0), and its CRC-32", () => {
    // CRC-32 of the first 13 bytes, 47545853 02000000 01000000 00, computed independently (zlib.crc32), stored little-endian.
    expect(hex(serializeState(null))).toBe("475458530200000001000000" + "00" + "1eb03f73");
  });

  it("params Float64Array.of(1), as a literal: tag 7, count 1, padding to 8 bytes, then 1.0", () => {
    // Offset 12: tag; 13: count; 17: seven zero bytes up to offset 24; 24: 00000000 0000f03f.
    expect(hex(serializeParams(Float64Array.of(1)))).toBe(
      "4754585002000000" + "14000000" + "07" + "01000000" + "00000000000000" + "000000000000f03f" + "817c5b2f",
    );
  });

  it("every tag, from the description", () => {
    const state = {
      z: null,
      u: undefined,
      t: true,
      f: false,
      n: -2.5,
      s: "é",
      a: [Float32Array.of(1.5), Float64Array.of(-0)],
      nd: ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]),
    };
    // Keys sorted: a, f, n, nd, s, t, u, z.
    const expected = new Bytes().u8(9).u32(8);
    expected.str("a").u8(8).u32(2);
    expected.u8(6).u32(1).pad(4).f32(1.5);
    expected.u8(7).u32(1).pad(8).f64(-0);
    expected.str("f").u8(2);
    expected.str("n").u8(4).f64(-2.5);
    expected.str("nd").u8(10).u32(2).u32(2).u32(3).u8(7).u32(6).pad(8);
    for (const x of [1, 2, 3, 4, 5, 6]) expected.f64(x);
    expected.str("s").u8(5).str("é");
    expected.str("t").u8(3);
    expected.str("u").u8(1);
    expected.str("z").u8(0);
    expect(hex(serializeState(state))).toBe(hex(blob(expected)));
    // And it reads back, the ndarray with its shape.
    const back = deserializeState(blob(expected), state);
    expect(back.nd.shape).toEqual([2, 3]);
    expect(Array.from(back.nd.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.is(back.a[1]![0], -0)).toBe(true);
  });

  it("a strided ndarray is written as its row-major elements", () => {
    const transposed = ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]).transpose(1, 0); // [3, 2]
    const expected = new Bytes().u8(10).u32(2).u32(3).u32(2).u8(7).u32(6).pad(8);
    for (const x of [1, 4, 2, 5, 3, 6]) expected.f64(x);
    expect(hex(serializeParams(transposed as PyTree))).toBe(hex(blob(expected, "GTXP")));
  });
});

describe("damaged blobs with a valid checksum: each check behind the checksum holds", () => {
  const template = { w: Float64Array.of(0, 0), k: 0 };
  /** The payload of `template`'s blob, written from the description. */
  const payload = () => {
    const b = new Bytes().u8(9).u32(2);
    b.str("k").u8(4).f64(7);
    b.str("w").u8(7).u32(2).pad(8).f64(1).f64(2);
    return b;
  };

  it("the undamaged payload reads back (the baseline the others damage)", () => {
    const back = deserializeState(blob(payload()), template);
    expect(back.k).toBe(7);
    expect(Array.from(back.w)).toEqual([1, 2]);
  });

  const damaged: [string, () => Uint8Array, unknown, RegExp][] = [
    [
      "an array announcing more items than the bytes hold",
      () => blob(new Bytes().u8(8).u32(3).u8(0, 0)),
      [null, null, null],
      /truncated or corrupted: the value at \[2\] runs past the end of the data/,
    ],
    [
      "a typed array announcing 2^32 - 1 elements",
      () => blob(new Bytes().u8(7).u32(0xffffffff).pad(8)),
      Float64Array.of(0),
      /a typed array runs past the end/,
    ],
    [
      "a string longer than the bytes",
      () => blob(new Bytes().u8(5).u32(100).u8(0x61)),
      "a",
      /a string runs past the end/,
    ],
    ["a number cut short", () => blob(new Bytes().u8(4).u8(0, 0, 0)), 0, /a number runs past the end/],
    [
      "padding running past the end",
      () => blob(new Bytes().u8(7).u32(0)),
      new Float64Array(0),
      /a typed array runs past the end/,
    ],
    [
      "an ndarray rank past the end",
      () => blob(new Bytes().u8(10).u32(1000)),
      ndarray(new Float64Array(1), [1]),
      /an ndarray shape runs past the end/,
    ],
    [
      "a byte left after the value",
      () => blob([...payload().out, 0]),
      template,
      /corrupted: 1 bytes left after the value/,
    ],
    ["an unknown tag", () => blob([11]), null, /corrupted: unknown value tag 11/],
    [
      "a bad ndarray data tag",
      () => blob(new Bytes().u8(10).u32(1).u32(1).u8(9)),
      ndarray(new Float64Array(1), [1]),
      /corrupted: bad ndarray data tag 9/,
    ],
    [
      "a key that is not UTF-8",
      () => blob(new Bytes().u8(9).u32(1).u32(1).u8(0xff).u8(0)),
      { a: null },
      /corrupted: an object key is not UTF-8/,
    ],
    [
      "a header length that disagrees with the size",
      () => blob(payload(), "GTXS", 1, payload().out.length + 1),
      template,
      /truncated or padded: the header announces/,
    ],
    ["version 3", () => blob(payload(), "GTXS", 3), template, /version 3 is not supported .* upgrade gradtx/],
    ["version 0", () => blob(payload(), "GTXS", 0), template, /version 0 .* the blob is corrupted/],
    ["params' magic", () => blob(payload(), "GTXP"), template, /this blob holds params; use deserializeParams/],
    ["another magic", () => blob(payload(), "GTXQ"), template, /not a gradtx checkpoint \(bad magic bytes\)/],
  ];
  it.each(damaged)("%s", (_, make, tmpl, message) => {
    expect(() => deserializeState(make(), tmpl)).toThrowError(
      expect.objectContaining({ code: "BAD_STATE", message: expect.stringMatching(message) }),
    );
    expect(() => deserializeState(make(), tmpl)).not.toThrowError(/checksum/);
  });

  const misfits: [string, () => Uint8Array, unknown, RegExp][] = [
    [
      "a [2,3] ndarray into a [3,2] template",
      () => serializeState(ndarray(new Float64Array(6), [2, 3])),
      ndarray(new Float64Array(6), [3, 2]),
      /expected an ndarray of shape \[3,2\], found \[2,3\]/,
    ],
    [
      "a float32 ndarray into a float64 one",
      () => serializeState(ndarray(new Float32Array(6), [2, 3])),
      ndarray(new Float64Array(6), [2, 3]),
      /expected an ndarray over a Float64Array, found one over a Float32Array/,
    ],
    [
      "an ndarray into a typed array",
      () => serializeState(ndarray(new Float64Array(2), [2])),
      new Float64Array(2),
      /expected a Float64Array of length 2, found an ndarray/,
    ],
    [
      "a Float32Array into a Float64Array",
      () => serializeState(new Float32Array(2)),
      new Float64Array(2),
      /expected a Float64Array of length 2, found a Float32Array of length 2/,
    ],
    [
      "a longer typed array",
      () => serializeState(new Float64Array(3)),
      new Float64Array(2),
      /found a Float64Array of length 3/,
    ],
    ["another key", () => serializeState({ a: 1 }), { b: 1 }, /expected key "b", found "a"/],
    ["one key more", () => serializeState({ a: 1, b: 2 }), { a: 1 }, /expected keys \[a\], found 2 keys/],
    ["an object into an array", () => serializeState({}), [], /expected an array of length 0, found an object/],
    ["an object into a typed array", () => serializeState({}), new Float64Array(0), /found an object/],
    ["a longer array", () => serializeState([1, 2]), [1], /expected an array of length 1, found an array of length 2/],
    ["a number into a string", () => serializeState(1), "x", /expected a string, found a number/],
    ["a string into a number", () => serializeState("x"), 1, /expected a number, found a string/],
    ["a boolean into null", () => serializeState(true), null, /expected null, found a boolean/],
    ["null into undefined", () => serializeState(null), undefined, /expected undefined, found null/],
    ["undefined into a boolean", () => serializeState(undefined), false, /expected a boolean, found undefined/],
    ["deep inside", () => serializeState({ a: [1, { b: 2 }] }), { a: [1, { b: "x" }] }, /^a\[1\]\.b: /],
  ];
  it.each(misfits)("%s does not fit the template", (_, make, tmpl, message) => {
    expect(() => deserializeState(make(), tmpl)).toThrowError(
      expect.objectContaining({
        code: "BAD_STATE",
        message: expect.stringMatching(/does not fit the template/),
      }),
    );
    expect(() => deserializeState(make(), tmpl)).toThrowError(message);
  });

  it("params: a [2,3] ndarray blob into a [3,2] template is refused too", () => {
    const bytes = serializeParams({ w: ndarray(new Float64Array(6), [2, 3]) } as PyTree);
    expect(() => deserializeParams(bytes, { w: ndarray(new Float64Array(6), [3, 2]) } as PyTree)).toThrowError(
      /^w: this blob does not fit the template .*expected an ndarray of shape \[3,2\], found \[2,3\]/,
    );
  });

  it("refuses what is not a Uint8Array, and anything shorter than a header and a checksum", () => {
    expect(() => deserializeState([1, 2, 3] as never, null)).toThrowError(/expected a Uint8Array, got object/);
    expect(() => deserializeState(new Uint8Array(15), null)).toThrowError(
      /15 bytes is shorter than any gradtx checkpoint/,
    );
    // 16 bytes is a header and a checksum: it gets as far as the magic bytes.
    expect(() => deserializeState(new Uint8Array(16), null)).toThrowError(/bad magic bytes/);
  });

  it("reads a blob inside a larger buffer, at an offset", () => {
    const inner = serializeState({ k: 3 });
    const big = new Uint8Array(inner.length + 7);
    big.set(inner, 5);
    expect(deserializeState(big.subarray(5, 5 + inner.length), { k: 0 })).toEqual({ k: 3 });
  });
});

describe("edges the mutation run found untested", () => {
  const nest = (depth: number, kind: "array" | "object"): unknown => {
    let x: unknown = 1;
    for (let i = 0; i < depth; i++) x = kind === "array" ? [x] : { a: x };
    return x;
  };

  it("a state larger than the writer's first buffer round-trips (the buffer grows past double)", () => {
    const big = { w: Float64Array.from({ length: 5000 }, (_, i) => i / 7), v: new Float32Array(3000).fill(0.5) };
    const back = deserializeState(serializeState(big), big);
    expect(Array.from(back.w)).toEqual(Array.from(big.w));
    expect(Array.from(back.v)).toEqual(Array.from(big.v));
  });

  it("names what it cannot serialize", () => {
    const loop: unknown[] = [];
    loop.push(loop);
    expect(() => serializeState(loop)).toThrowError(
      /^\[0\]: cannot serialize a state that contains itself \(a cycle\)$/,
    );
    expect(() => serializeState({ m: new Map() })).toThrowError(
      /^m: cannot serialize this object: states are plain data$/,
    );
    expect(() => serializeState(new Set())).toThrowError(/cannot serialize this object/);
    expect(() => serializeState({ f: () => 1 })).toThrowError(/^f: cannot serialize a function/);
    expect(() => serializeState([Symbol("s")])).toThrowError(/^\[0\]: cannot serialize a symbol/);
    expect(() => serializeState(1n)).toThrowError(/cannot serialize a bigint/);
    // The path of a nested place names every key on the way.
    expect(() => serializeState({ a: { b: [new Date()] } })).toThrowError(/^a\.b\[0\]: cannot serialize this object/);
  });

  it("nests exactly MAX_DEPTH (1,000) containers, in both directions, and no more", () => {
    for (const kind of ["array", "object"] as const) {
      const deepest = nest(1000, kind);
      expect(deserializeState(serializeState(deepest), deepest)).toEqual(deepest);
      expect(() => serializeState(nest(1001, kind))).toThrowError(/nested deeper than 1000 levels/);
      // null and typed arrays at the bottom are values, not containers.
      for (const leaf of [null, Float64Array.of(1)]) {
        let x: unknown = leaf;
        for (let i = 0; i < 1000; i++) x = kind === "array" ? [x] : { a: x };
        expect(serializeState(x).length).toBeGreaterThan(16);
      }
    }
    // Objects 1,001 deep, written by hand with a valid checksum, are refused on reading.
    const payload = new Bytes();
    for (let i = 0; i < 1001; i++) payload.u8(9).u32(1).str("a");
    payload.u8(0);
    expect(() => deserializeState(blob(payload), nest(1001, "object"))).toThrowError(/nested deeper than 1000 levels/);
  });

  it("keeps an object without a prototype, and an object that only looks like an ndarray, as plain objects", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: 1 });
    expect(deserializeState(serializeState(bare), { k: 0 })).toEqual({ k: 1 });
    for (const lookalike of [
      { shape: [2], data: Float64Array.of(1, 2) },
      { shape: [2], stride: [1], data: Float64Array.of(1, 2) },
      { stride: [1], offset: 0, data: Float64Array.of(1, 2) },
      { shape: [2], offset: 0, data: Float64Array.of(1, 2) },
    ]) {
      const back = deserializeState(serializeState(lookalike), lookalike) as Record<string, unknown>;
      expect(Object.keys(back).sort()).toEqual(Object.keys(lookalike).sort());
      expect(Array.from(back.data as Float64Array)).toEqual([1, 2]);
    }
  });

  it("a typed array whose elements need more bytes than remain, though their count does not", () => {
    // 4 float64 elements need 32 bytes; only 8 follow.
    const b = new Bytes().u8(7).u32(4).pad(8).f64(1);
    expect(() => deserializeState(blob(b), new Float64Array(4))).toThrowError(/a typed array runs past the end/);
  });

  it("an object or an ndarray into a template of another kind", () => {
    for (const template of [5, null, "x", undefined, true, new Float64Array(0)])
      expect(() => deserializeState(serializeState({}), template)).toThrowError(
        /does not fit the template.*found an object/,
      );
    const nd = serializeState(ndarray(new Float64Array(2), [2]));
    for (const template of [5, null, "x", {}, new Float64Array(2)])
      expect(() => deserializeState(nd, template)).toThrowError(/does not fit the template.*found an ndarray/);
    expect(() => deserializeState(serializeState([]), {})).toThrowError(
      /expected an object, found an array of length 0/,
    );
    expect(() => deserializeState(serializeState({}), [])).toThrowError(
      /expected an array of length 0, found an object/,
    );
  });

  it("ndarray shapes must agree exactly: rank and every extent", () => {
    const bytes = serializeState(ndarray(new Float64Array(6), [2, 3]));
    for (const shape of [[2], [2, 4], [1, 2, 3], [3, 2]])
      expect(() => deserializeState(bytes, ndarray(new Float64Array(6), shape))).toThrowError(
        new RegExp(`expected an ndarray of shape \\[${shape.join(",")}\\], found \\[2,3\\]`),
      );
  });

  it("says which deserializer a blob of the other kind needs, and how long the header says it is", () => {
    expect(() => deserializeParams(serializeState(null), null)).toThrowError(
      /this blob holds an optimizer state; use deserializeState$/,
    );
    expect(() => deserializeState(serializeParams(null), null)).toThrowError(
      /this blob holds params; use deserializeParams$/,
    );
    const bytes = serializeState([1, 2]);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expect(() => deserializeState(longer, [1, 2])).toThrowError(
      new RegExp(`the header announces ${bytes.length} bytes, got ${bytes.length + 3}$`),
    );
  });
});

describe("version 1 (gradtx 0.2) states, read into today's layout", () => {
  // sgd(0.1) on { w: ndarray [2, 3] } is [identity, scale]: today each keeps { shapes }; 0.2 wrote {}.
  const params = { w: ndarray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]) };
  const template = [{ shapes: { w: Float64Array.of(2, 3) } }, { shapes: { w: Float64Array.of(2, 3) } }];
  const empty = () => new Bytes().u8(9).u32(0);
  const v1Stateless = () =>
    new Bytes()
      .u8(8)
      .u32(2)
      .u8(...empty().out, ...empty().out);

  it("an empty record takes the template's shapes, as a copy", () => {
    const read = deserializeState(blob(v1Stateless(), "GTXS", 1), template);
    expect(read).toEqual(template);
    expect(read[0]!.shapes.w).not.toBe(template[0]!.shapes.w);
  });

  it("a version 2 blob must have the record: the same bytes stamped 2 are refused", () => {
    expect(() => deserializeState(blob(v1Stateless(), "GTXS", 2), template)).toThrowError(
      /does not fit the template.*expected keys \[shapes\], found 0 keys/,
    );
  });

  it("a record that is not missing but different is refused in version 1 too", () => {
    const other = new Bytes().u8(9).u32(1).str("count").u8(4).f64(0);
    const bytes = new Bytes()
      .u8(8)
      .u32(2)
      .u8(...other.out, ...empty().out);
    expect(() => deserializeState(blob(bytes, "GTXS", 1), template)).toThrowError(/expected key "shapes"/);
  });

  it("a typed array becomes an ndarray of the template's shape, if dtype and length agree", () => {
    const v1 = (values: number[], tag = 7) => {
      const b = new Bytes()
        .u8(9)
        .u32(1)
        .str("mu")
        .u8(tag)
        .u32(values.length)
        .pad(tag === 7 ? 8 : 4);
      for (const x of values) {
        if (tag === 7) b.f64(x);
        else b.f32(x);
      }
      return b;
    };
    const moment = { mu: ndarray(new Float64Array(6), [2, 3]) };
    const read = deserializeState(blob(v1([1, 2, 3, 4, 5, 6]), "GTXS", 1), moment);
    expect(read.mu.shape).toEqual([2, 3]);
    expect(Array.from(read.mu.data)).toEqual([1, 2, 3, 4, 5, 6]);
    // Another length, another dtype, or version 2: refused.
    expect(() => deserializeState(blob(v1([1, 2, 3]), "GTXS", 1), moment)).toThrowError(/does not fit/);
    expect(() => deserializeState(blob(v1([1, 2, 3, 4, 5, 6], 6), "GTXS", 1), moment)).toThrowError(/does not fit/);
    expect(() => deserializeState(blob(v1([1, 2, 3, 4, 5, 6]), "GTXS", 2), moment)).toThrowError(/does not fit/);
  });

  it("params are not states: a version 1 params blob is read strictly", () => {
    const flat = new Bytes().u8(7).u32(6).pad(8);
    for (const x of [1, 2, 3, 4, 5, 6]) flat.f64(x);
    expect(() => deserializeParams(blob(flat, "GTXP", 1), params.w)).toThrowError(/does not fit/);
  });
});
