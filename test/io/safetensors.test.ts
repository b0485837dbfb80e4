import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { dataPath, tmpDir } from '../helpers.js';

function withHeader(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

describe('safetensors', () => {
  it('reads the HF fixture (41 tensors, 999,105 parameters)', () => {
    const f = readSafetensors(dataPath('hf-fixtures', 'bert-tiny-random', 'model.safetensors'));
    expect(f.tensors.size).to.equal(41);
    let n = 0;
    for (const t of f.tensors.values()) n += t.values.length;
    expect(n).to.equal(999105);
    expect(f.metadata.format).to.equal('pt');
  });

  it('round-trips F32/I32/I64 and pads the header to 8 bytes', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'x.safetensors');
    writeSafetensors(file, {
      b: { shape: [2, 2], values: new Float32Array([1.5, -2, 3e-8, 4e30]) },
      a: { shape: [3], values: new Int32Array([1, -2, 2147483647]) },
      c: { shape: [2], values: new Int32Array([-5, 7]), dtype: 'I64' },
    });
    const buf = fs.readFileSync(file);
    expect(Number(buf.readBigUInt64LE(0)) % 8).to.equal(0);
    const back = readSafetensors(file);
    expect([...back.tensors.keys()]).to.deep.equal(['a', 'b', 'c']);
    expect(Array.from(back.tensors.get('b')!.values)).to.deep.equal(Array.from(new Float32Array([1.5, -2, 3e-8, 4e30])));
    expect(Array.from(back.tensors.get('a')!.values)).to.deep.equal([1, -2, 2147483647]);
    expect(back.tensors.get('c')!.dtype).to.equal('I64');
    expect(Array.from(back.tensors.get('c')!.values)).to.deep.equal([-5, 7]);
  });

  it('decodes F16, BF16 and F64', () => {
    const data = Buffer.alloc(2 * 2 + 2 * 2 + 8);
    data.writeUInt16LE(0x3c00, 0); // 1.0 in f16
    data.writeUInt16LE(0xc000, 2); // -2.0
    data.writeUInt16LE(0x3f80, 4); // 1.0 in bf16
    data.writeUInt16LE(0x4049, 6); // 3.140625
    data.writeDoubleLE(0.25, 8);
    const f = parseSafetensors(withHeader({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
    }, data));
    expect(Array.from(f.tensors.get('h')!.values)).to.deep.equal([1, -2]);
    expect(Array.from(f.tensors.get('b')!.values)).to.deep.equal([1, 3.140625]);
    expect(Array.from(f.tensors.get('d')!.values)).to.deep.equal([0.25]);
  });

  it('rejects a truncated file, naming the file and the tensor', () => {
    const dir = tmpDir();
    const full = fs.readFileSync(dataPath('hf-fixtures', 'bert-tiny-random', 'model.safetensors'));
    const cut = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(cut, full.subarray(0, full.length - 1000));
    expect(() => readSafetensors(cut)).to.throw(/cut\.safetensors: truncated safetensors file: tensor '[^']+' ends at byte/);
    fs.writeFileSync(cut, full.subarray(0, 5));
    expect(() => readSafetensors(cut)).to.throw(/cut\.safetensors: truncated safetensors file: 5 bytes/);
    fs.writeFileSync(cut, full.subarray(0, 100));
    expect(() => readSafetensors(cut)).to.throw(/truncated or corrupt safetensors file: header length/);
  });

  it('rejects unknown dtypes, bad shapes and offsets that do not match the shape', () => {
    const data = Buffer.alloc(16);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, data), 'm.safetensors'))
      .to.throw(/m\.safetensors: tensor 'x': unknown dtype "F8_E4M3"/);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data)))
      .to.throw(/tensor 'x': shape \[3\] of F32 needs 12 bytes but data_offsets span 16/);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data)))
      .to.throw(/tensor 'x': invalid shape/);
    expect(() => parseSafetensors(Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')])))
      .to.throw(/header is not valid JSON/);
  });

  it('refuses I64 values outside int32', () => {
    const data = Buffer.alloc(8);
    data.writeBigInt64LE(1n << 40n);
    expect(() => parseSafetensors(withHeader({ big: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data)))
      .to.throw(/tensor 'big': I64 value 1099511627776 does not fit int32/);
  });

  it('serialises deterministically (sorted names)', () => {
    const t = { z: { shape: [1], values: new Float32Array([1]) }, y: { shape: [1], values: new Float32Array([2]) } };
    expect(serializeSafetensors(t).equals(serializeSafetensors({ y: t.y, z: t.z }))).to.equal(true);
  });
});
