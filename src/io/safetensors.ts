// The safetensors format: u64 little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw bytes
// (offsets relative to the end of the header), little-endian, row-major.
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../utils/errors.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor as stored: values widened to what tfjs holds (float32 for floats, int32 for ints). */
export interface StoredTensor {
  /** The dtype in the file. */
  dtype: SafetensorsDtype;
  shape: number[];
  values: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** A tensor to write. Float32Array is written as F32, Int32Array as I32 (unless dtype says I64). */
export interface TensorToWrite {
  shape: number[];
  values: Float32Array | Int32Array;
  dtype?: 'F32' | 'I32' | 'I64';
}

const MAX_HEADER = 100 * 1024 * 1024;

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(file: string, name: string, dtype: SafetensorsDtype, bytes: Buffer, count: number): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new InputError(`tensor '${name}': I64 value ${v} does not fit int32`, { file });
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case 'I16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      return out;
    }
  }
}

/** Parses a safetensors buffer; `file` names the source in error messages. */
export function parseSafetensors(buf: Buffer, file = '<buffer>'): SafetensorsFile {
  if (buf.length < 8) throw new InputError(`truncated safetensors file: ${buf.length} bytes, no header length`, { file });
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER) || Number(n) + 8 > buf.length) {
    throw new InputError(`truncated or corrupt safetensors file: header length ${n} but file has ${buf.length} bytes`, { file });
  }
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`safetensors header is not valid JSON: ${(e as Error).message}`, { file });
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
      throw new InputError(`tensor '${name}': unknown dtype ${JSON.stringify(e?.dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`, { file });
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputError(`tensor '${name}': invalid shape ${JSON.stringify(e.shape)}`, { file });
    }
    const shape = e.shape as number[];
    const offs = e.data_offsets as number[];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw new InputError(`tensor '${name}': invalid data_offsets ${JSON.stringify(e.data_offsets)}`, { file });
    }
    const count = shape.reduce((a, d) => a * d, 1);
    const want = count * DTYPE_BYTES[dtype];
    if (offs[1] - offs[0] !== want) {
      throw new InputError(`tensor '${name}': shape ${JSON.stringify(shape)} of ${dtype} needs ${want} bytes but data_offsets span ${offs[1] - offs[0]}`, { file });
    }
    if (offs[1] > dataLen) {
      throw new InputError(`truncated safetensors file: tensor '${name}' ends at byte ${offs[1]} of the data section, which has ${dataLen} bytes`, { file });
    }
    const bytes = buf.subarray(dataStart + offs[0], dataStart + offs[1]);
    tensors.set(name, { dtype, shape, values: decode(file, name, dtype, bytes, count) });
  }
  return { tensors, metadata };
}

/** Reads a `.safetensors` file. Errors name the file and, where one is at fault, the tensor. */
export function readSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read safetensors file: ${(e as Error).message}`, { file });
  }
  return parseSafetensors(buf, file);
}

/** Serialises tensors (sorted by name, header padded to 8 bytes, as the reference writer does). */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.values.length) {
      throw new Error(`tensor '${name}': shape ${JSON.stringify(t.shape)} holds ${count} values, got ${t.values.length}`);
    }
    const dtype = t.dtype ?? (t.values instanceof Float32Array ? 'F32' : 'I32');
    let bytes: Buffer;
    if (dtype === 'I64') {
      bytes = Buffer.alloc(count * 8);
      for (let i = 0; i < count; i++) bytes.writeBigInt64LE(BigInt(t.values[i]), i * 8);
    } else {
      bytes = Buffer.alloc(count * 4);
      for (let i = 0; i < count; i++) {
        if (dtype === 'F32') bytes.writeFloatLE(t.values[i], i * 4);
        else bytes.writeInt32LE(t.values[i], i * 4);
      }
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]);
}

/** Writes a `.safetensors` file atomically (temporary file, then rename). */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, serializeSafetensors(tensors, metadata));
  fs.renameSync(tmp, file);
}
