import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { arrayElementOffsets, configJsonText, lineColumn, locateJsonError, readJsonObject } from '../../src/io/json.js';
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

describe('JSON syntax errors by line and column', () => {
  // Bad texts of every kind; Python's json module (a reference that reports line and column) must agree.
  const cases = [
    '{"a": ', '[1,2,]', '{"a" 1}', 'xyz', '{"a":1} x', '["a\nb"]', '{"a": tru}', '', '[1,\n 2,\n  }',
    '{"a":"b"\n,\n"c": nul}', '{"a": 01}', '[1 2]', "{'a': 1}", '["\\x"]', '{"a":1,}', '\n\n  [\n  {"q": 1},\n  {"q": 2,,}\n]',
    '{"a": "\\u12G4"}', '[1, -]', '{"a": [1, {"b": 2}]', '\r\n[\r\n1,\r\n]',
  ];

  it("agree with Python's json module on every case", () => {
    const py = spawnSync('python3', ['-c', 'import json,sys\nfor s in json.load(sys.stdin):\n  try:\n    json.loads(s); print("ok")\n  except json.JSONDecodeError as e: print(e.lineno, e.colno)'], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(py.status, py.stderr).to.equal(0);
    const want = py.stdout.trim().split('\n');
    const got = cases.map((s) => {
      const e = locateJsonError(s);
      if (!e) return 'ok';
      const { line, column } = lineColumn(s, e.offset);
      return `${line} ${column}`;
    });
    expect(got).to.deep.equal(want);
    // Every case really is invalid for JSON.parse too.
    for (const s of cases) expect(() => JSON.parse(s), JSON.stringify(s)).to.throw();
  });

  it('finds nothing wrong in valid JSON', () => {
    for (const s of ['{}', '[]', ' {"a": [1, 2.5e-3, -0, true, false, null, "x\\"y\\u00e9"]} ', '"s"', '3']) expect(locateJsonError(s)).to.equal(null);
  });

  it('a config file cut short is reported at its end, by line and column', () => {
    const f = path.join(tmpDir(), 'config.json');
    fs.writeFileSync(f, '{\n  "hidden_size": 128,\n  "num_layers": ');
    expect(() => readJsonObject(f)).to.throw(`${f}:3:17: cannot read config: invalid JSON: the text ends where a value should be (cut short?)`);
    fs.writeFileSync(f, '{\n  "hidden_size": 128\n  "num_layers": 2\n}');
    expect(() => readJsonObject(f)).to.throw(`${f}:3:3: cannot read config: invalid JSON: expected ',' or '}', found '"'`);
  });

  it('locates the elements of a top-level array', () => {
    const text = '[\n  {"a": "[,]"},\n  [1, [2]] ,"x\\"]",\n3]';
    const offs = arrayElementOffsets(text);
    expect(offs.map((o) => lineColumn(text, o))).to.deep.equal([
      { line: 2, column: 3 },
      { line: 3, column: 3 },
      { line: 3, column: 13 },
      { line: 4, column: 1 },
    ]);
  });
});
