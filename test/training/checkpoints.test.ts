// Trainer checkpoints: checksummed, the previous one kept; a damaged checkpoint is reported and the
// previous one used (same result as an uninterrupted run); both damaged → an InputError naming both.
// A stop signal ends training at a step boundary with a checkpoint that resumes exactly.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { CrossEncoder } from '../../src/models/cross-encoder.js';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import type { TrainingList } from '../../src/data/lists.js';
import { SeededRandom } from '../../src/utils/random.js';
import { Trainer, TrainingInterruptedError, verifyCheckpoint, type TrainerConfig } from '../../src/training/trainer.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, tmpDir } from '../helpers.js';

const tokenizer = TextTokenizer.fromDir(dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config'), { maxLength: 32 });

function lists(n: number): TrainingList[] {
  const rng = new SeededRandom(9);
  const words = ['river', 'castle', 'engine', 'violin', 'forest', 'planet'];
  return Array.from({ length: n }, (_, i) => ({
    qid: `q${i}`,
    query: `where is the ${words[rng.int(words.length)]}`,
    docs: Array.from({ length: 4 }, (_, j) => `the ${words[rng.int(words.length)]} ${j === 0 ? 'answer' : words[rng.int(words.length)]}`),
    labels: [1, 0, 0, 0],
  }));
}

const model = () =>
  new CrossEncoder({ vocab_size: 30522, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 32 }, { tokenizer, seed: 3, maxLength: 32 });

describe('Trainer checkpoints', function () {
  this.timeout(120000);
  const data = lists(16);
  // Evaluation picks the best model (restored at the end): its weights must survive a resume too.
  const cfg: TrainerConfig = { progress: false, plots: false, listSize: 4, listsPerBatch: 2, lr: 3e-3, seed: 5, epochs: 2, evalEvery: 3, evaluate: async (m) => ({ score: (await m.score([['where is the river', 'the river answer']]))[0] }) };

  it('stop signal → checkpoint at the step boundary; damaged newest checkpoint → the previous one, same final weights', async () => {
    const m0 = model();
    const full = await new Trainer(m0, cfg).train(data);
    const want = [...m0.trainableVariables().values()].map((v) => Array.from(v.dataSync()));
    m0.dispose();

    const dir = tmpDir();
    const stop = new AbortController();
    const m1 = model();
    const err = await new Trainer(m1, { ...cfg, outputDir: dir, checkpointEvery: 2, stopSignal: stop.signal, onLog: (r) => void (r.type === 'train' && r.step === 5 && stop.abort('SIGINT')) })
      .train(data)
      .catch((e: unknown) => e);
    m1.dispose();
    expect(err).to.be.instanceOf(TrainingInterruptedError);
    expect((err as TrainingInterruptedError).step).to.equal(5);
    const ck = path.join(dir, 'checkpoint');
    expect((err as TrainingInterruptedError).checkpoint).to.equal(ck);
    expect(verifyCheckpoint(ck)).to.equal(null);
    expect(JSON.parse(fs.readFileSync(path.join(`${ck}-prev`, 'trainer_state.json'), 'utf8')).step).to.equal(4);
    expect(fs.existsSync(path.join(ck, 'best.safetensors'))).to.equal(true);

    // One flipped byte in the newest checkpoint's optimiser state.
    const f = path.join(ck, 'optimizer.safetensors');
    const buf = fs.readFileSync(f);
    buf[buf.length - 3] ^= 0xff;
    fs.writeFileSync(f, buf);
    expect(verifyCheckpoint(ck)).to.equal('optimizer.safetensors does not match its sha256 (altered or corrupted)');
    const notices: string[] = [];
    const m2 = model();
    const resumed = await new Trainer(m2, { ...cfg, outputDir: dir, resumeFrom: ck, onNotice: (m) => notices.push(m) }).train(data);
    expect(notices).to.deep.equal([
      `checkpoint ${ck} is damaged (optimizer.safetensors does not match its sha256 (altered or corrupted)); trying the previous one, ${ck}-prev`,
      `resuming from ${ck}-prev (step 4) instead`,
    ]);
    expect(resumed.losses).to.deep.equal(full.losses);
    expect(resumed.best).to.deep.equal(full.best);
    expect([...m2.trainableVariables().values()].map((v) => Array.from(v.dataSync()))).to.deep.equal(want);
    m2.dispose();
  });

  it('both checkpoints damaged (or missing files): an InputError naming each problem', async () => {
    const dir = tmpDir();
    const m = model();
    await new Trainer(m, { ...cfg, epochs: 1, outputDir: dir, checkpointEvery: 1 }).train(data.slice(0, 6));
    const ck = path.join(dir, 'checkpoint');
    fs.truncateSync(path.join(ck, 'weights.safetensors'), 100);
    fs.rmSync(path.join(`${ck}-prev`, 'trainer_state.json'));
    const err = await new Trainer(m, { ...cfg, resumeFrom: ck, onNotice: () => {} }).train(data).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(new RegExp(`^${ck}: no usable checkpoint to resume from: ${ck}: weights\\.safetensors has 100 bytes, \\d+ were written \\(truncated\\?\\); ${ck}-prev: trainer_state\\.json missing$`));
    m.dispose();
  });
});
