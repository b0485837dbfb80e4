// GGUF reader: files written by the `gguf` Python package's writer (peer venv), every dequantised
// type compared bit for bit (tolerance 0) with `gguf.dequantize` on the same bytes, typed metadata of
// every value type, alignment, version 2, and bad files (each error names the file and the tensor or key).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { GGUFFile, GGUFValueType, isGgufFile } from '../../src/io/gguf.js';
import { DEQUANTIZABLE, GGMLType, dequantize, ggmlTypeName } from '../../src/io/gguf-quants.js';
import { InputError } from '../../src/utils/errors.js';
import { tmpDir } from '../helpers.js';
import { runPeer } from '../peer.js';

const TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];

// Writes types.gguf (one tensor per type, alignment 64, metadata of every value type) and, per tensor,
// gguf.dequantize's float32 output (<name>.f32) read back through gguf.GGUFReader. gguf-py quantises
// F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 itself; it has no K-quant quantiser, so K-quant blocks are random
// bytes with finite random f16 scales (every bit pattern of the other fields is a valid block).
const WRITER = String.raw`
import sys, os, json, numpy as np, gguf
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES
out = sys.argv[1]
rng = np.random.default_rng(7)
w = gguf.GGUFWriter(os.path.join(out, 'types.gguf'), 'llama')
w.add_custom_alignment(64)
w.add_uint8('t.u8', 200); w.add_int8('t.i8', -100); w.add_uint16('t.u16', 65000); w.add_int16('t.i16', -32000)
w.add_uint32('t.u32', 4000000000); w.add_int32('t.i32', -2000000000); w.add_float32('t.f32', 0.1)
w.add_uint64('t.u64', 2**60 + 1); w.add_uint64('t.u64small', 12345); w.add_int64('t.i64', -(2**40)); w.add_float64('t.f64', 1e-300)
w.add_bool('t.bool', True); w.add_string('t.str', 'héllo wörld 日本 🎉')
w.add_array('t.arr_str', ['a', 'bc', '']); w.add_array('t.arr_i32', [1, -2, 3]); w.add_array('t.arr_f32', [0.5, -1.25])
w.add_key_value('t.arr_u8', [1, 2, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
w.add_array('t.arr_nested', [[1, 2], [3]])
w.add_array('t.arr_bool', [True, False])
# K-quant f16 scale fields: byte offsets of d (and dmin) within a block.
SCALES = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
base = (rng.standard_normal((4, 512)) * np.array([[0.02], [1.0], [30.0], [1e-3]])).astype(np.float32)
base[0, :64] = 0  # all-zero blocks (scale 0)
base[3, 5] = 6e-8; base[3, 6] = -0.0; base[3, 7] = 65504; base[3, 8] = 1e-40  # f16 subnormal, -0, max; f32 subnormal
names = []
for name in ${JSON.stringify(TYPES)}:
    t = T[name]
    if t in SCALES:
        bs, ts = GGML_QUANT_SIZES[t]
        raw = rng.integers(0, 256, size=(4, 512 // bs * ts), dtype=np.uint8)
        blocks = raw.reshape(-1, ts)
        for off in SCALES[t]:
            blocks[:, off:off + 2] = (rng.standard_normal((blocks.shape[0], 1)) * 0.05).astype(np.float16).view(np.uint8)
        w.add_tensor('t.' + name, raw, raw_dtype=t)
    elif t == T.F32:
        w.add_tensor('t.' + name, base)
    elif t == T.F16:
        w.add_tensor('t.' + name, base.astype(np.float16))
    else:
        w.add_tensor('t.' + name, gguf.quants.quantize(base, t), raw_dtype=t)
    names.append('t.' + name)
# A 3-D tensor: the row-major shape is ne reversed.
w.add_tensor('t.Q8_0.3d', gguf.quants.quantize(base.reshape(2, 2, 512)[:, :, :64].copy(), T.Q8_0), raw_dtype=T.Q8_0)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
r = gguf.GGUFReader(os.path.join(out, 'types.gguf'))
manifest = []
for t in r.tensors:
    v = gguf.dequantize(t.data, t.tensor_type).astype(np.float32)
    v.tofile(os.path.join(out, t.name + '.f32'))
    manifest.append({'name': t.name, 'type': int(t.tensor_type), 'shape': [int(x) for x in v.shape], 'offset': int(t.data_offset)})
print(json.dumps({'tensors': manifest, 'data_offset': int(r.data_offset)}))
`;

interface Manifest {
  tensors: Array<{ name: string; type: number; shape: number[]; offset: number }>;
  data_offset: number;
}

/** The error `fn` throws, which must be an InputError naming `file`. */
function inputError(fn: () => unknown, file: string): InputError {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(InputError);
    expect((e as InputError).message).to.include(file);
    return e as InputError;
  }
  expect.fail('expected an InputError');
}

/** Byte offset of the ggml type field of tensor `name` in the tensor directory. */
function typeFieldOffset(buf: Buffer, name: string): number {
  // The directory entry: u64 length, the name, u32 n_dims, u64 × n_dims, u32 type, u64 offset.
  let p = buf.indexOf(Buffer.from(name));
  while (p >= 0 && Number(buf.readBigUInt64LE(p - 8)) !== Buffer.byteLength(name)) p = buf.indexOf(Buffer.from(name), p + 1);
  p += Buffer.byteLength(name);
  const nDims = buf.readUInt32LE(p);
  return p + 4 + 8 * nDims;
}

describe('GGUF reader', function () {
  this.timeout(300000); // the first peer call of a run also checks the venv (imports torch): slow on a loaded machine
  let dir: string;
  let manifest: Manifest;
  let file: string;
  before(() => {
    dir = tmpDir('rankdistill-gguf-');
    manifest = JSON.parse(runPeer(WRITER, [dir])) as Manifest;
    file = path.join(dir, 'types.gguf');
  });

  it('reads the header, the tensor directory and alignment like gguf-py', () => {
    GGUFFile.with(file, (g) => {
      expect(g.version).to.equal(3);
      expect(g.alignment).to.equal(64);
      expect(g.dataOffset).to.equal(manifest.data_offset);
      expect(g.dataOffset % 64).to.equal(0);
      expect(g.tensors.map((t) => t.name)).to.deep.equal(manifest.tensors.map((t) => t.name));
      for (const m of manifest.tensors) {
        const t = g.tensor(m.name);
        expect(t.type, m.name).to.equal(m.type);
        expect(t.shape, m.name).to.deep.equal(m.shape);
        expect(t.dims, m.name).to.deep.equal([...m.shape].reverse());
        expect(t.offset, m.name).to.equal(m.offset);
        expect(t.offset % 64).to.equal(0);
      }
      expect(g.tensor('t.Q8_0.3d').shape).to.deep.equal([2, 2, 64]);
    });
    expect(isGgufFile(file)).to.equal(true);
  });

  it('reads metadata of every value type, arrays and nested arrays included', () => {
    GGUFFile.with(file, (g) => {
      expect(g.get('t.u8')).to.equal(200);
      expect(g.get('t.i8')).to.equal(-100);
      expect(g.get('t.u16')).to.equal(65000);
      expect(g.get('t.i16')).to.equal(-32000);
      expect(g.get('t.u32')).to.equal(4000000000);
      expect(g.get('t.i32')).to.equal(-2000000000);
      expect(g.get('t.f32')).to.equal(Math.fround(0.1));
      expect(g.get('t.u64')).to.equal(2n ** 60n + 1n); // beyond 2^53: a bigint
      expect(g.get('t.u64small')).to.equal(12345);
      expect(g.get('t.i64')).to.equal(-(2 ** 40));
      expect(g.get('t.f64')).to.equal(1e-300);
      expect(g.get('t.bool')).to.equal(true);
      expect(g.string('t.str')).to.equal('héllo wörld 日本 🎉');
      expect(g.array('t.arr_str', 'string')).to.deep.equal(['a', 'bc', '']);
      expect(g.array('t.arr_i32', 'number')).to.deep.equal([1, -2, 3]);
      expect(g.get('t.arr_f32')).to.deep.equal([0.5, -1.25]);
      expect(g.get('t.arr_u8')).to.deep.equal([1, 2, 255]);
      expect(g.metadata.get('t.arr_u8')!.arrayType).to.equal(GGUFValueType.UINT8);
      expect(g.get('t.arr_nested')).to.deep.equal([[1, 2], [3]]);
      expect(g.get('t.arr_bool')).to.deep.equal([true, false]);
      expect(g.string('general.architecture')).to.equal('llama');
      expect(g.metadata.get('t.i64')!.type).to.equal(GGUFValueType.INT64);
      // Typed accessors name the key when the type is wrong.
      expect(() => g.string('t.u8')).to.throw(InputError, "field 't.u8'");
      expect(() => g.array('t.arr_i32', 'string')).to.throw(InputError, 'INT32');
      expect(() => g.number('missing.key', true)).to.throw(InputError, "field 'missing.key'");
    });
  });

  for (const name of TYPES) {
    it(`dequantises ${name} exactly as gguf.dequantize does (bit for bit)`, () => {
      GGUFFile.with(file, (g) => {
        const t = g.tensor(`t.${name}`);
        expect(t.typeName).to.equal(name);
        const got = g.readTensor(t);
        const want = new Float32Array(new Uint8Array(fs.readFileSync(path.join(dir, `t.${name}.f32`))).buffer);
        expect(got.length).to.equal(want.length);
        const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
        const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
        let diff = 0;
        let first = -1;
        for (let i = 0; i < a.length; i++) {
          if (a[i] !== b[i]) {
            diff++;
            if (first < 0) first = i;
          }
        }
        expect(diff, `${name}: ${diff} of ${a.length} values differ, first at ${first}: ${got[first]} vs ${want[first]}`).to.equal(0);
      });
    });
  }

  it('dequantises a 3-D tensor and covers every type the issue names', () => {
    GGUFFile.with(file, (g) => {
      const got = g.readTensor('t.Q8_0.3d');
      const want = new Float32Array(new Uint8Array(fs.readFileSync(path.join(dir, 't.Q8_0.3d.f32'))).buffer);
      expect(Array.from(got)).to.deep.equal(Array.from(want));
    });
    expect(DEQUANTIZABLE.map((t) => ggmlTypeName(t)).sort()).to.deep.equal([...TYPES].sort());
    expect(() => dequantize(GGMLType.Q4_0, new Uint8Array(18), 31)).to.throw('whole number');
  });

  it('reads version 2 files (same layout as 3)', () => {
    const buf = fs.readFileSync(file);
    buf.writeUInt32LE(2, 4);
    const f2 = path.join(dir, 'v2.gguf');
    fs.writeFileSync(f2, buf);
    GGUFFile.with(f2, (g) => {
      expect(g.version).to.equal(2);
      expect(Array.from(g.readTensor('t.Q4_1'))).to.deep.equal(Array.from(GGUFFile.with(file, (h) => h.readTensor('t.Q4_1'))));
    });
  });

  describe('bad files', () => {
    const bad = (name: string, edit: (b: Buffer) => Buffer): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, edit(Buffer.from(fs.readFileSync(file))));
      return f;
    };

    it('wrong magic, unsupported versions', () => {
      let f = bad('magic.gguf', (b) => (b.write('GGML', 0), b));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include('not a GGUF file: magic "GGML"');
      expect(isGgufFile(f)).to.equal(false);
      f = bad('v1.gguf', (b) => (b.writeUInt32LE(1, 4), b));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include('version 1 is not supported');
      f = bad('be.gguf', (b) => (b.writeUInt32BE(3, 4), b));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include('big-endian');
      f = bad('empty.gguf', () => Buffer.from('GG'));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include('too short');
    });

    it('truncated header and metadata name what was being read', () => {
      let f = bad('trunc-header.gguf', (b) => b.subarray(0, 12));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include('truncated file: the tensor count');
      // Cut inside the string value of t.str: the error names the key.
      f = bad('trunc-meta.gguf', (b) => b.subarray(0, b.indexOf(Buffer.from('héllo')) + 3));
      const e = inputError(() => GGUFFile.open(f), f);
      expect(e.message).to.include("field 't.str'");
      expect(e.message).to.include('truncated file');
      // Cut inside the tensor directory.
      f = bad('trunc-dir.gguf', (b) => b.subarray(0, b.indexOf(Buffer.from('t.Q4_K')) + 2));
      expect(inputError(() => GGUFFile.open(f), f).message).to.match(/truncated file.*tensor #\d+/);
    });

    it('unknown metadata value type names the key', () => {
      const f = bad('meta-type.gguf', (b) => {
        const at = b.indexOf(Buffer.from('t.i16')) + 't.i16'.length;
        b.writeUInt32LE(77, at);
        return b;
      });
      const e = inputError(() => GGUFFile.open(f), f);
      expect(e.message).to.include("field 't.i16'");
      expect(e.message).to.include('unknown metadata value type 77');
    });

    it('bad alignment names general.alignment', () => {
      const f = bad('align.gguf', (b) => {
        const at = b.indexOf(Buffer.from('general.alignment')) + 'general.alignment'.length + 4;
        b.writeUInt32LE(48, at);
        return b;
      });
      expect(inputError(() => GGUFFile.open(f), f).message).to.include("field 'general.alignment': alignment must be a u32 power of two, got 48");
    });

    it('unknown tensor type, misaligned offset, tensor past the end: each names the tensor', () => {
      let f = bad('type.gguf', (b) => (b.writeUInt32LE(99, typeFieldOffset(b, 't.Q5_0')), b));
      expect(inputError(() => GGUFFile.open(f), f).message).to.include("tensor 't.Q5_0': unknown ggml type 99");
      f = bad('misaligned.gguf', (b) => {
        const at = typeFieldOffset(b, 't.Q5_1') + 4;
        b.writeBigUInt64LE(b.readBigUInt64LE(at) + 8n, at);
        return b;
      });
      expect(inputError(() => GGUFFile.open(f), f).message).to.match(/tensor 't\.Q5_1': data offset \d+ is not a multiple of the alignment 64/);
      const last = manifest.tensors[manifest.tensors.length - 1].name;
      f = bad('short.gguf', (b) => b.subarray(0, b.length - 100));
      expect(inputError(() => GGUFFile.open(f), f).message).to.match(new RegExp(`tensor '${last.replace('.', '\\.')}' .* ends past the end of the file`));
      f = bad('rowlen.gguf', (b) => {
        const at = typeFieldOffset(b, 't.Q8_0') - 16; // ne[0] of the 2-D tensor
        b.writeBigUInt64LE(500n, at);
        return b;
      });
      expect(inputError(() => GGUFFile.open(f), f).message).to.include("tensor 't.Q8_0': row length 500 is not a multiple of the Q8_0 block size 32");
    });

    it('a known type without a dequantiser fails on read, naming the tensor', () => {
      // IQ4_NL blocks are as large as Q4_0's, so the directory stays consistent.
      const f = bad('iq4.gguf', (b) => (b.writeUInt32LE(GGMLType.IQ4_NL, typeFieldOffset(b, 't.Q4_0')), b));
      GGUFFile.with(f, (g) => {
        expect(g.tensor('t.Q4_0').typeName).to.equal('IQ4_NL');
        expect(inputError(() => g.readTensor('t.Q4_0'), f).message).to.include("tensor 't.Q4_0': ggml type IQ4_NL cannot be dequantised");
        expect(inputError(() => g.tensor('nope'), f).message).to.include("tensor 'nope' is not in the file");
      });
    });
  });
});
