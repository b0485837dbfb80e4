import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { configJsonText, readJsonObject } from '../../src/io/json.js';
import { tmpDir } from '../helpers.js';

describe('config JSON files', () => {
  it('keeps the .0 of integral float fields at any depth, and nothing else', () => {
    const text = configJsonText({ a: 1, eps: 1, p: 0, q: 0.1, n: { factor: 8, other: 2 }, list: [1] }, ['eps', 'p', 'q', 'factor']);
    expect(text).to.contain('"eps": 1.0,').and.contain('"p": 0.0,').and.contain('"q": 0.1,').and.contain('"factor": 8.0,');
    expect(text).to.contain('"a": 1,').and.contain('"other": 2\n');
    expect(JSON.parse(text)).to.deep.equal({ a: 1, eps: 1, p: 0, q: 0.1, n: { factor: 8, other: 2 }, list: [1] });
  });

  it('names the file when it is not a JSON object', () => {
    const d = tmpDir();
    const f = path.join(d, 'config.json');
    fs.writeFileSync(f, '[1, 2]');
    expect(() => readJsonObject(f)).to.throw(/config is not a JSON object/).with.property('message').that.contains(f);
    fs.writeFileSync(f, '{"a": ');
    expect(() => readJsonObject(f)).to.throw(/cannot read config/);
  });
});
