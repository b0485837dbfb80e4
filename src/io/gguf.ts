// The GGUF format (llama.cpp, ggml docs/gguf.md), versions 2 and 3, little-endian:
//   magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count × (string key, u32 value type, value)          typed metadata, arrays included
//   tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset)
//   padding to `general.alignment` (default 32), then the tensor data; offsets are relative to it.
// Strings are u64 length + UTF-8 bytes. ne[0] is the fastest-varying dimension, so the row-major
// shape is ne reversed. Only the header is read on open; each tensor's bytes are read from the file
// descriptor when asked for, so a model is never held twice in memory.
import fs from 'node:fs';
import { InputError } from '../utils/errors.js';
import { canDequantize, dequantize, GGML_BLOCK, ggmlByteSize, ggmlTypeName } from './gguf-quants.js';

export { GGMLType, ggmlTypeName, canDequantize, dequantize } from './gguf-quants.js';

/** Metadata value types (gguf.md `gguf_metadata_value_type`). */
export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** 64-bit integers are numbers when they are safe integers, bigints otherwise. */
export type GGUFScalar = number | bigint | boolean | string;
export type GGUFValue = GGUFScalar | GGUFValue[];

export interface GGUFMetadataEntry {
  key: string;
  type: GGUFValueType;
  /** Element type of an ARRAY (the innermost one for nested arrays). */
  arrayType?: GGUFValueType;
  value: GGUFValue;
}

export interface GGUFTensorInfo {
  name: string;
  /** ggml type id (GGMLType). */
  type: number;
  typeName: string;
  /** ggml order: ne[0] (a row's length) first. */
  dims: number[];
  /** Row-major shape (dims reversed), as numpy and transformers see it. */
  shape: number[];
  count: number;
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
}

const MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const SCALAR_BYTES: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1,
  [GGUFValueType.INT8]: 1,
  [GGUFValueType.UINT16]: 2,
  [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4,
  [GGUFValueType.INT32]: 4,
  [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT64]: 8,
  [GGUFValueType.INT64]: 8,
  [GGUFValueType.FLOAT64]: 8,
};

/** Sequential little-endian reads through a growing window of the file. */
class HeaderReader {
  private buf = Buffer.alloc(0);
  private start = 0;
  pos = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}

  /** Makes `n` bytes at `pos` available; `what` says what they were for when the file ends first. */
  need(n: number, what: string, field?: string): number {
    const end = this.pos + n;
    if (end > this.size) {
      throw new InputError(`truncated file: ${what} needs ${n} bytes at offset ${this.pos}, but the file has ${this.size} bytes`, { file: this.file, field });
    }
    if (end > this.start + this.buf.length) {
      const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const r = fs.readSync(this.fd, b, got, len - got, this.pos + got);
        if (r === 0) break;
        got += r;
      }
      if (got < n) throw new InputError(`truncated file: could read only ${got} of ${n} bytes at offset ${this.pos}`, { file: this.file, field });
      this.buf = b;
      this.start = this.pos;
    }
    const at = this.pos - this.start;
    this.pos = end;
    return at;
  }
  u32(what: string, field?: string): number {
    const at = this.need(4, what, field); // before reading this.buf: need() may replace it
    return this.buf.readUInt32LE(at);
  }
  u64(what: string, field?: string): number | bigint {
    const at = this.need(8, what, field);
    const v = this.buf.readBigUInt64LE(at);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 that must be a usable size or count. */
  count(what: string, field?: string): number {
    const v = this.u64(what, field);
    if (typeof v === 'bigint') throw new InputError(`${what} ${v} is impossibly large (corrupt file?)`, { file: this.file, field });
    return v;
  }
  string(what: string, field?: string): string {
    const n = this.count(`the length of ${what}`, field);
    if (this.pos + n > this.size) {
      throw new InputError(`truncated file: ${what} of ${n} bytes at offset ${this.pos} runs past the end (${this.size} bytes)`, { file: this.file, field });
    }
    const at = this.need(n, what, field);
    return this.buf.toString('utf8', at, at + n);
  }
  scalar(type: GGUFValueType, what: string, field: string): GGUFScalar {
    if (type === GGUFValueType.STRING) return this.string(what, field);
    const n = SCALAR_BYTES[type];
    if (n === undefined) throw new InputError(`unknown metadata value type ${type}`, { file: this.file, field });
    const at = this.need(n, what, field);
    const b = this.buf;
    switch (type) {
      case GGUFValueType.UINT8:
        return b.readUInt8(at);
      case GGUFValueType.INT8:
        return b.readInt8(at);
      case GGUFValueType.UINT16:
        return b.readUInt16LE(at);
      case GGUFValueType.INT16:
        return b.readInt16LE(at);
      case GGUFValueType.UINT32:
        return b.readUInt32LE(at);
      case GGUFValueType.INT32:
        return b.readInt32LE(at);
      case GGUFValueType.FLOAT32:
        return b.readFloatLE(at);
      case GGUFValueType.FLOAT64:
        return b.readDoubleLE(at);
      case GGUFValueType.BOOL: {
        const v = b.readUInt8(at);
        if (v > 1) throw new InputError(`bool value ${v} is neither 0 nor 1`, { file: this.file, field });
        return v === 1;
      }
      case GGUFValueType.UINT64: {
        const v = b.readBigUInt64LE(at);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      default: {
        const v = b.readBigInt64LE(at);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      }
    }
  }
}

/** A value of `type` (arrays recursively); fills `entry.arrayType` with the innermost element type. */
function readValue(r: HeaderReader, type: number, key: string, file: string, entry: GGUFMetadataEntry): GGUFValue {
  if (type !== GGUFValueType.ARRAY) {
    if (!(type in GGUFValueType)) throw new InputError(`unknown metadata value type ${type}`, { file, field: key });
    return r.scalar(type, `the value of metadata key '${key}'`, key);
  }
  const elType = r.u32(`the element type of array '${key}'`, key);
  const n = r.count(`the length of array '${key}'`, key);
  if (!(elType in GGUFValueType)) throw new InputError(`unknown array element type ${elType}`, { file, field: key });
  // Each element takes at least one byte (strings 8): a length beyond the file is corruption.
  const minBytes = SCALAR_BYTES[elType as GGUFValueType] ?? 8;
  if (r.pos + n * minBytes > r.size) {
    throw new InputError(`truncated file: array of ${n} elements at offset ${r.pos} runs past the end (${r.size} bytes)`, { file, field: key });
  }
  entry.arrayType = elType === GGUFValueType.ARRAY ? entry.arrayType : elType;
  const out: GGUFValue[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readValue(r, elType, key, file, entry);
  return out;
}

export class GGUFFile {
  readonly version: number;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  readonly size: number;
  readonly metadata = new Map<string, GGUFMetadataEntry>();
  readonly tensors: GGUFTensorInfo[] = [];
  private readonly byName = new Map<string, GGUFTensorInfo>();
  private fd: number | null;

  private constructor(readonly file: string, fd: number) {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
    const r = new HeaderReader(fd, this.size, file);
    if (this.size < 4) throw new InputError(`not a GGUF file: ${this.size} bytes, too short for the magic`, { file });
    const magic = r.u32('the magic');
    if (magic !== MAGIC) {
      const seen = Buffer.alloc(4);
      seen.writeUInt32LE(magic);
      throw new InputError(`not a GGUF file: magic ${JSON.stringify(seen.toString('latin1'))} (0x${magic.toString(16).padStart(8, '0')}), expected "GGUF"`, { file });
    }
    this.version = r.u32('the version');
    if (this.version === 1) throw new InputError('GGUF version 1 is not supported (versions 2 and 3 are); convert the file with a newer llama.cpp', { file });
    if (this.version !== 2 && this.version !== 3) {
      const swapped = Buffer.alloc(4);
      swapped.writeUInt32BE(this.version);
      const be = swapped.readUInt32LE(0);
      throw new InputError(be === 2 || be === 3 ? `big-endian GGUF (version ${be}) is not supported` : `unsupported GGUF version ${this.version} (2 and 3 are supported)`, { file });
    }
    const nTensors = r.count('the tensor count');
    const nKv = r.count('the metadata count');
    for (let i = 0; i < nKv; i++) {
      const key = r.string(`metadata key #${i}`, `metadata #${i}`);
      const type = r.u32(`the value type of metadata key '${key}'`, key);
      const entry: GGUFMetadataEntry = { key, type, value: 0 };
      entry.value = readValue(r, type, key, file, entry);
      if (this.metadata.has(key)) throw new InputError('metadata key appears twice', { file, field: key });
      this.metadata.set(key, entry);
    }
    const align = this.metadata.get('general.alignment');
    this.alignment = DEFAULT_ALIGNMENT;
    if (align) {
      const a = align.value;
      if (align.type !== GGUFValueType.UINT32 || typeof a !== 'number' || a < 1 || (a & (a - 1)) !== 0) {
        throw new InputError(`alignment must be a u32 power of two, got ${String(a)} (${GGUFValueType[align.type]})`, { file, field: 'general.alignment' });
      }
      this.alignment = a;
    }
    const infos: Array<{ name: string; dims: number[]; type: number; rel: number }> = [];
    for (let i = 0; i < nTensors; i++) {
      const name = r.string(`the name of tensor #${i}`, `tensor #${i}`);
      const what = `tensor '${name}'`;
      const nDims = r.u32(`the dimension count of ${what}`);
      if (nDims < 1 || nDims > MAX_DIMS) throw new InputError(`${what}: ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`, { file });
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(r.count(`dimension ${d} of ${what}`));
      const type = r.u32(`the type of ${what}`);
      const rel = r.count(`the offset of ${what}`);
      infos.push({ name, dims, type, rel });
    }
    this.dataOffset = Math.ceil(r.pos / this.alignment) * this.alignment;
    for (const { name, dims, type, rel } of infos) {
      const what = `tensor '${name}'`;
      if (this.byName.has(name)) throw new InputError(`${what} appears twice in the tensor directory`, { file });
      if (!(type in GGML_BLOCK)) throw new InputError(`${what}: unknown ggml type ${type}`, { file });
      const [block] = GGML_BLOCK[type];
      if (dims[0] % block !== 0) {
        throw new InputError(`${what}: row length ${dims[0]} is not a multiple of the ${ggmlTypeName(type)} block size ${block}`, { file });
      }
      const count = dims.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(count)) throw new InputError(`${what}: shape [${dims}] is impossibly large`, { file });
      if (rel % this.alignment !== 0) throw new InputError(`${what}: data offset ${rel} is not a multiple of the alignment ${this.alignment}`, { file });
      const byteLength = ggmlByteSize(type, count);
      const offset = this.dataOffset + rel;
      if (offset + byteLength > this.size) {
        throw new InputError(
          `${what} (${ggmlTypeName(type)} [${dims}], ${byteLength} bytes at offset ${offset}) ends past the end of the file (${this.size} bytes): truncated file?`,
          { file },
        );
      }
      const info: GGUFTensorInfo = { name, type, typeName: ggmlTypeName(type), dims, shape: [...dims].reverse(), count, offset, byteLength };
      this.tensors.push(info);
      this.byName.set(name, info);
    }
  }

  /** Reads the header, metadata and tensor directory; keeps the file open for tensor reads. */
  static open(file: string): GGUFFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new InputError(`cannot open GGUF file: ${(e as Error).message}`, { file });
    }
    try {
      return new GGUFFile(file, fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Opens the file, runs `fn`, closes it. */
  static with<T>(file: string, fn: (g: GGUFFile) => T): T {
    const g = GGUFFile.open(file);
    try {
      return fn(g);
    } finally {
      g.close();
    }
  }

  has(key: string): boolean {
    return this.metadata.has(key);
  }

  /** A metadata value (undefined when absent). */
  get(key: string): GGUFValue | undefined {
    return this.metadata.get(key)?.value;
  }

  /** A string metadata value; `required` makes absence an error. */
  string(key: string, required: true): string;
  string(key: string, required?: boolean): string | undefined;
  string(key: string, required = false): string | undefined {
    const e = this.entry(key, required);
    if (!e) return undefined;
    if (typeof e.value !== 'string') throw new InputError(`expected a string, got ${GGUFValueType[e.type]}`, { file: this.file, field: key });
    return e.value;
  }

  /** An integer or float metadata value. */
  number(key: string, required: true): number;
  number(key: string, required?: boolean): number | undefined;
  number(key: string, required = false): number | undefined {
    const e = this.entry(key, required);
    if (!e) return undefined;
    if (typeof e.value !== 'number') throw new InputError(`expected a number, got ${e.type === GGUFValueType.ARRAY ? 'an array' : JSON.stringify(String(e.value))}`, { file: this.file, field: key });
    return e.value;
  }

  boolean(key: string): boolean | undefined {
    const e = this.entry(key, false);
    if (!e) return undefined;
    if (typeof e.value !== 'boolean') throw new InputError(`expected a bool, got ${GGUFValueType[e.type]}`, { file: this.file, field: key });
    return e.value;
  }

  /** An array metadata value whose elements are all of `kind`. */
  array<K extends 'string' | 'number'>(key: string, kind: K, required = false): Array<K extends 'string' ? string : number> | undefined {
    const e = this.entry(key, required);
    if (!e) return undefined;
    const v = e.value;
    if (!Array.isArray(v) || !v.every((x) => typeof x === kind)) {
      throw new InputError(`expected an array of ${kind}s, got ${e.type === GGUFValueType.ARRAY ? `an array of ${GGUFValueType[e.arrayType!]}` : GGUFValueType[e.type]}`, {
        file: this.file,
        field: key,
      });
    }
    return v as Array<K extends 'string' ? string : number>;
  }

  private entry(key: string, required: boolean): GGUFMetadataEntry | undefined {
    const e = this.metadata.get(key);
    if (!e && required) throw new InputError('required metadata key is missing', { file: this.file, field: key });
    return e;
  }

  hasTensor(name: string): boolean {
    return this.byName.has(name);
  }

  tensor(name: string): GGUFTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new InputError(`tensor '${name}' is not in the file`, { file: this.file });
    return t;
  }

  /** The tensor's bytes as stored, read from the file now. */
  readRaw(t: GGUFTensorInfo | string): Buffer {
    const info = typeof t === 'string' ? this.tensor(t) : t;
    if (this.fd === null) throw new Error(`${this.file}: the GGUF file was closed`);
    const b = Buffer.alloc(info.byteLength);
    let got = 0;
    while (got < b.length) {
      const r = fs.readSync(this.fd, b, got, b.length - got, info.offset + got);
      if (r === 0) throw new InputError(`tensor '${info.name}': the file ended after ${got} of ${b.length} bytes (changed since it was opened?)`, { file: this.file });
      got += r;
    }
    return b;
  }

  /** The tensor dequantised to float32, row-major in `shape`. */
  readTensor(t: GGUFTensorInfo | string): Float32Array {
    const info = typeof t === 'string' ? this.tensor(t) : t;
    if (!canDequantize(info.type)) throw new InputError(`tensor '${info.name}': ggml type ${info.typeName} cannot be dequantised here`, { file: this.file });
    return dequantize(info.type, this.readRaw(info), info.count);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** True when the file starts with the GGUF magic. */
export function isGgufFile(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(4);
      return fs.readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === MAGIC;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}
