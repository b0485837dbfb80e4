// ggml tensor types and their dequantisation to float32, block layout by block layout as ggml
// (ggml-quants.c) and the `gguf` Python package (gguf/quants.py) define them. Every product and sum is
// rounded to float32 where numpy's float32 arithmetic rounds (Math.fround), so the values are the
// Python reference's bit for bit.

/** ggml type ids (ggml.h `enum ggml_type`, gguf-py `GGMLQuantizationType`). */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

const QK_K = 256;

/** [values per block, bytes per block] of every type ggml knows (gguf-py GGML_QUANT_SIZES). */
export const GGML_BLOCK: Readonly<Record<number, readonly [number, number]>> = {
  [GGMLType.F32]: [1, 4],
  [GGMLType.F16]: [1, 2],
  [GGMLType.Q4_0]: [32, 18],
  [GGMLType.Q4_1]: [32, 20],
  [GGMLType.Q5_0]: [32, 22],
  [GGMLType.Q5_1]: [32, 24],
  [GGMLType.Q8_0]: [32, 34],
  [GGMLType.Q8_1]: [32, 40],
  [GGMLType.Q2_K]: [QK_K, 84],
  [GGMLType.Q3_K]: [QK_K, 110],
  [GGMLType.Q4_K]: [QK_K, 144],
  [GGMLType.Q5_K]: [QK_K, 176],
  [GGMLType.Q6_K]: [QK_K, 210],
  [GGMLType.Q8_K]: [QK_K, 292],
  [GGMLType.IQ2_XXS]: [QK_K, 66],
  [GGMLType.IQ2_XS]: [QK_K, 74],
  [GGMLType.IQ3_XXS]: [QK_K, 98],
  [GGMLType.IQ1_S]: [QK_K, 50],
  [GGMLType.IQ4_NL]: [32, 18],
  [GGMLType.IQ3_S]: [QK_K, 110],
  [GGMLType.IQ2_S]: [QK_K, 82],
  [GGMLType.IQ4_XS]: [QK_K, 136],
  [GGMLType.I8]: [1, 1],
  [GGMLType.I16]: [1, 2],
  [GGMLType.I32]: [1, 4],
  [GGMLType.I64]: [1, 8],
  [GGMLType.F64]: [1, 8],
  [GGMLType.IQ1_M]: [QK_K, 56],
  [GGMLType.BF16]: [1, 2],
  [GGMLType.TQ1_0]: [QK_K, 54],
  [GGMLType.TQ2_0]: [QK_K, 66],
  [GGMLType.MXFP4]: [32, 17],
};

/** The type's name ("Q4_1"), or "type N" for an id ggml does not define. */
export function ggmlTypeName(type: number): string {
  return GGMLType[type] ?? `type ${type}`;
}

/** Bytes that `count` values of `type` take (count must be a whole number of blocks). */
export function ggmlByteSize(type: number, count: number): number {
  const [block, bytes] = GGML_BLOCK[type];
  return (count / block) * bytes;
}

// ---- half precision -------------------------------------------------------------------------------

let F16_TABLE: Float32Array | null = null;

/** float16 bits → float32, exactly (subnormals, infinities and NaN included), via a 64k table. */
export function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    t[h] = e === 0 ? s * 2 ** -24 * f : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return (F16_TABLE = t);
}

const fr = Math.fround;

type Dequantizer = (src: Uint8Array, out: Float32Array, blocks: number) => void;

// Each dequantizer reads `blocks` consecutive blocks of `src` into `out` (values in file order).

// Byte copies into typed arrays assume a little-endian host, as GGUF files are (Node runs on
// little-endian platforms only).
function f32(src: Uint8Array, out: Float32Array, n: number): void {
  // `src` may not be 4-byte aligned: copy the bytes instead of viewing them.
  new Uint8Array(out.buffer, out.byteOffset, n * 4).set(src.subarray(0, n * 4));
}

function f16(src: Uint8Array, out: Float32Array, n: number): void {
  const t = f16Table();
  for (let i = 0; i < n; i++) out[i] = t[src[2 * i] | (src[2 * i + 1] << 8)];
}

function bf16(src: Uint8Array, out: Float32Array, n: number): void {
  const u = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) u[i] = ((src[2 * i] | (src[2 * i + 1] << 8)) << 16) >>> 0;
}

/** Q8_0: f16 d, int8 q[32]; x = d·q. */
function q8_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  for (let b = 0; b < blocks; b++) {
    const p = b * 34;
    const d = t[src[p] | (src[p + 1] << 8)];
    const o = b * 32;
    for (let j = 0; j < 32; j++) out[o + j] = fr(d * ((src[p + 2 + j] << 24) >> 24));
  }
}

/** Q4_0: f16 d, 16 bytes of nibbles (low nibbles = values 0..15, high = 16..31); x = d·(q − 8). */
function q4_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  for (let b = 0; b < blocks; b++) {
    const p = b * 18;
    const d = t[src[p] | (src[p + 1] << 8)];
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 2 + j];
      out[o + j] = fr(d * ((q & 0xf) - 8));
      out[o + j + 16] = fr(d * ((q >> 4) - 8));
    }
  }
}

/** Q4_1: f16 d, f16 m, 16 bytes of nibbles; x = d·q + m. */
function q4_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  for (let b = 0; b < blocks; b++) {
    const p = b * 20;
    const d = t[src[p] | (src[p + 1] << 8)];
    const m = t[src[p + 2] | (src[p + 3] << 8)];
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 4 + j];
      out[o + j] = fr(fr(d * (q & 0xf)) + m);
      out[o + j + 16] = fr(fr(d * (q >> 4)) + m);
    }
  }
}

/** Q5_0: f16 d, u32 of fifth bits (bit j for value j), 16 bytes of nibbles; x = d·(q − 16). */
function q5_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  for (let b = 0; b < blocks; b++) {
    const p = b * 22;
    const d = t[src[p] | (src[p + 1] << 8)];
    const qh = (src[p + 2] | (src[p + 3] << 8) | (src[p + 4] << 16) | (src[p + 5] << 24)) >>> 0;
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 6 + j];
      out[o + j] = fr(d * (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16));
      out[o + j + 16] = fr(d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16));
    }
  }
}

/** Q5_1: f16 d, f16 m, u32 of fifth bits, 16 bytes of nibbles; x = d·q + m. */
function q5_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  for (let b = 0; b < blocks; b++) {
    const p = b * 24;
    const d = t[src[p] | (src[p + 1] << 8)];
    const m = t[src[p + 2] | (src[p + 3] << 8)];
    const qh = (src[p + 4] | (src[p + 5] << 8) | (src[p + 6] << 16) | (src[p + 7] << 24)) >>> 0;
    const o = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 8 + j];
      out[o + j] = fr(fr(d * ((q & 0xf) | (((qh >>> j) & 1) << 4))) + m);
      out[o + j + 16] = fr(fr(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4))) + m);
    }
  }
}

/**
 * Q2_K (256 values): scales[16] (low nibble scale, high nibble min per 16 values), qs[64] (2-bit
 * values: byte h·32+l holds values h·128 + s·32 + l at bits 2s), f16 d, f16 dmin; x = d·sc·q − dmin·m.
 */
function q2_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  const dl = new Float32Array(16);
  const ml = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 84;
    const d = t[src[p + 80] | (src[p + 81] << 8)];
    const dmin = t[src[p + 82] | (src[p + 83] << 8)];
    for (let j = 0; j < 16; j++) {
      dl[j] = fr(d * (src[p + j] & 0xf));
      ml[j] = fr(dmin * (src[p + j] >> 4));
    }
    const o = b * QK_K;
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s < 4; s++) {
        for (let l = 0; l < 32; l++) {
          const e = h * 128 + s * 32 + l;
          const q = (src[p + 16 + h * 32 + l] >> (2 * s)) & 3;
          out[o + e] = fr(fr(dl[e >> 4] * q) - ml[e >> 4]);
        }
      }
    }
  }
}

/**
 * Q3_K: hmask[32] (value b·32+l's high bit at bit b of byte l, inverted: set = no offset), qs[64]
 * (low 2 bits, laid out as in Q2_K), scales[12] (16 six-bit scales, biased by 32), f16 d;
 * x = d·(sc − 32)·(q_low − 4·!high).
 */
function q3_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  const dl = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 110;
    const sc = p + 96;
    const d = t[src[p + 108] | (src[p + 109] << 8)];
    for (let k = 0; k < 16; k++) {
      const low = (src[sc + (k & 7)] >> (4 * (k >> 3))) & 0xf;
      const high = (src[sc + 8 + (k & 3)] >> (2 * (k >> 2))) & 3;
      dl[k] = fr(d * ((low | (high << 4)) - 32));
    }
    const o = b * QK_K;
    for (let h = 0; h < 2; h++) {
      for (let s = 0; s < 4; s++) {
        for (let l = 0; l < 32; l++) {
          const e = h * 128 + s * 32 + l;
          const ql = (src[p + 32 + h * 32 + l] >> (2 * s)) & 3;
          const hb = (src[p + l] >> (e >> 5)) & 1;
          out[o + e] = fr(dl[e >> 4] * (ql - (hb ? 0 : 4)));
        }
      }
    }
  }
}

/** The 8 six-bit scales and mins of Q4_K / Q5_K packed in 12 bytes (ggml get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, at: number, sc: Uint8Array, mn: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    const d = src[at + j];
    const m = src[at + 4 + j];
    const md = src[at + 8 + j];
    sc[j] = d & 0x3f;
    mn[j] = m & 0x3f;
    sc[j + 4] = (md & 0x0f) | ((d >> 2) & 0x30);
    mn[j + 4] = (md >> 4) | ((m >> 2) & 0x30);
  }
}

/**
 * Q4_K: f16 d, f16 dmin, scales[12], qs[128] (byte c·32+l: low nibble = value c·64+l, high =
 * c·64+32+l); 8 sub-blocks of 32; x = d·sc·q − dmin·m. Q5_K: the same with qh[32] before qs, value
 * b·32+l's fifth bit at bit b of byte l.
 */
function kQuant45(blockBytes: 144 | 176): Dequantizer {
  const fifth = blockBytes === 176;
  return (src, out, blocks) => {
    const t = f16Table();
    const sc = new Uint8Array(8);
    const mn = new Uint8Array(8);
    const dj = new Float32Array(8);
    const mj = new Float32Array(8);
    for (let b = 0; b < blocks; b++) {
      const p = b * blockBytes;
      const d = t[src[p] | (src[p + 1] << 8)];
      const dmin = t[src[p + 2] | (src[p + 3] << 8)];
      scaleMinK4(src, p + 4, sc, mn);
      for (let j = 0; j < 8; j++) {
        dj[j] = fr(d * sc[j]);
        mj[j] = fr(dmin * mn[j]);
      }
      const qh = p + 16;
      const qs = fifth ? p + 48 : p + 16;
      const o = b * QK_K;
      for (let c = 0; c < 4; c++) {
        for (let l = 0; l < 32; l++) {
          const q = src[qs + c * 32 + l];
          const h0 = fifth ? ((src[qh + l] >> (2 * c)) & 1) << 4 : 0;
          const h1 = fifth ? ((src[qh + l] >> (2 * c + 1)) & 1) << 4 : 0;
          const e0 = c * 64 + l;
          out[o + e0] = fr(fr(dj[2 * c] * ((q & 0xf) | h0)) - mj[2 * c]);
          out[o + e0 + 32] = fr(fr(dj[2 * c + 1] * ((q >> 4) | h1)) - mj[2 * c + 1]);
        }
      }
    }
  };
}

/**
 * Q6_K: ql[128] (byte h·64+l: low nibble = value h·128+l, high = h·128+64+l), qh[64] (byte h·32+l:
 * bits 2s..2s+1 = high bits of value h·128+s·32+l), int8 scales[16], f16 d; x = d·sc·(q − 32).
 */
function q6_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const t = f16Table();
  const dj = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const p = b * 210;
    const d = t[src[p + 208] | (src[p + 209] << 8)];
    for (let j = 0; j < 16; j++) dj[j] = fr(d * ((src[p + 192 + j] << 24) >> 24));
    const o = b * QK_K;
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 64; l++) {
        const q = src[p + h * 64 + l];
        for (let a = 0; a < 2; a++) {
          const e = h * 128 + a * 64 + l;
          const s = (a * 64 + l) >> 5;
          const hi = (src[p + 128 + h * 32 + (l & 31)] >> (2 * s)) & 3;
          const v = (((q >> (4 * a)) & 0xf) | (hi << 4)) - 32;
          out[o + e] = fr(dj[e >> 4] * v);
        }
      }
    }
  }
}

const DEQUANTIZERS: Partial<Record<GGMLType, Dequantizer>> = {
  [GGMLType.F32]: f32,
  [GGMLType.F16]: f16,
  [GGMLType.BF16]: bf16,
  [GGMLType.Q8_0]: q8_0,
  [GGMLType.Q4_0]: q4_0,
  [GGMLType.Q4_1]: q4_1,
  [GGMLType.Q5_0]: q5_0,
  [GGMLType.Q5_1]: q5_1,
  [GGMLType.Q2_K]: q2_k,
  [GGMLType.Q3_K]: q3_k,
  [GGMLType.Q4_K]: kQuant45(144),
  [GGMLType.Q5_K]: kQuant45(176),
  [GGMLType.Q6_K]: q6_k,
};

/** Types this module turns into float32. */
export const DEQUANTIZABLE: readonly GGMLType[] = Object.keys(DEQUANTIZERS).map(Number) as GGMLType[];

export function canDequantize(type: number): boolean {
  return type in DEQUANTIZERS;
}

/**
 * `count` values of `type` from their raw bytes (`src` holds at least their byte size). Throws for
 * types without a dequantiser; callers check `canDequantize` first to name the tensor in the error.
 */
export function dequantize(type: number, src: Uint8Array, count: number): Float32Array {
  const fn = DEQUANTIZERS[type as GGMLType];
  if (!fn) throw new Error(`no dequantiser for ggml type ${ggmlTypeName(type)}`);
  const [block] = GGML_BLOCK[type];
  if (count % block !== 0) throw new Error(`${count} values are not a whole number of ${ggmlTypeName(type)} blocks of ${block}`);
  const need = ggmlByteSize(type, count);
  if (src.length < need) throw new Error(`${count} ${ggmlTypeName(type)} values need ${need} bytes, got ${src.length}`);
  const out = new Float32Array(count);
  fn(src, out, block === 1 ? count : count / block);
  return out;
}
