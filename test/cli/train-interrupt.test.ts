// `rankdistill train` stopped by a real SIGINT sent to a real child process: it writes a checkpoint at
// the next step boundary and exits 130; `--resume` ends with exactly the weights, losses and test
// numbers of an uninterrupted run; a damaged newest checkpoint (checksums) is reported and the one
// before it used. Restarts that would mix two runs are refused (exit 2).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { hasData, tmpDir } from '../helpers.js';
import { runCli, startCli, type CliResult } from './run-cli.js';

/** A small recipe run: one Reason-to-Rank file and one DL19 teacher run, a 1-layer H=16 student, 20 steps. */
const CONFIG = {
  reason2rank: ['reason2rank-llm-listwise-teacher/gpt-3.5/msmarco-train/msmarco_train_100.jsonl'],
  teacherRuns: ['llm-rerank-runs-dl19/run.setwise.heapsort.openai_4o_mini.n3.txt'],
  teacherDepth: 10,
  devQueries: 3,
  devTopK: 5,
  testTopK: 5,
  maxLength: 32,
  model: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
  trainer: { maxSteps: 20, evalEvery: 4, listSize: 5, listsPerBatch: 4, checkpointEvery: 3 },
};

/** The parts of a finished run that must not depend on an interruption. */
function outcome(dir: string) {
  const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const { train, ...report } = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  return {
    weights: fs.readFileSync(path.join(dir, 'final', 'model.safetensors')).toString('base64'),
    // Per step: loss, learning rate and gradient norm; evaluations (times and throughput differ).
    log: log.filter((r) => r.type === 'train' || r.type === 'eval').map(({ time: _t, lists_per_s: _l, ...r }) => r),
    train: { ...train, seconds: 0 },
    test: report.test,
    dev: report.dev,
  };
}

describe('cli: train interrupted by a real signal, then resumed', function () {
  this.timeout(180000);
  before(function () {
    if (!hasData('reason2rank-llm-listwise-teacher') || !hasData('llm-rerank-runs-dl19') || !hasData('trec-dl-2020-passage')) this.skip();
  });

  it('SIGINT → checkpoint at the next step, exit 130; --resume ends exactly like an uninterrupted run; a damaged checkpoint is reported', async () => {
    const dir = tmpDir('rankdistill-train-sig-');
    const cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify(CONFIG));
    const [full, cut] = [path.join(dir, 'full'), path.join(dir, 'cut')];
    const train = (out: string, extra: string[] = []) => ['train', '--config', cfgFile, '--out', out, ...extra];

    // Uninterrupted, and (at the same time) one that gets SIGINT once its log shows step 3.
    let signalled = false;
    const interrupted = startCli(train(cut));
    const poll = setInterval(() => {
      const log = path.join(cut, 'log.jsonl');
      if (!signalled && fs.existsSync(log) && /"type":"train","step":3,/.test(fs.readFileSync(log, 'utf8'))) {
        signalled = true;
        interrupted.child.kill('SIGINT');
      }
    }, 10);
    const [a, b] = await Promise.all([runCli(train(full)), interrupted.done.finally(() => clearInterval(poll))]);
    expect(a.code, a.stderr).to.equal(0);
    expect(signalled, 'the run ended before step 3 was logged').to.equal(true);
    expect(b.code, b.stderr).to.equal(130);
    expect(b.signal).to.equal(null);
    const afterSignal = b.errLines.slice(b.errLines.findIndex((l) => l.startsWith('train: SIGINT')));
    expect(afterSignal[0]).to.equal('train: SIGINT received: stopping at the next optimiser step and writing a checkpoint; send it again to stop at once');
    const stopped = /^train: stopped at optimiser step (\d+); checkpoint (.*)\. Continue with: rankdistill train (.*) --resume$/.exec(afterSignal.find((l) => l.startsWith('train: stopped'))!);
    expect(stopped, b.stderr).to.not.equal(null);
    const step = Number(stopped![1]);
    expect(step).to.be.within(3, 19);
    expect(stopped![2]).to.equal(path.join(cut, 'checkpoint'));
    expect(JSON.parse(fs.readFileSync(path.join(cut, 'checkpoint', 'trainer_state.json'), 'utf8')).step).to.equal(step);
    expect(fs.existsSync(path.join(cut, 'final'))).to.equal(false);
    expect(fs.existsSync(path.join(cut, 'curves.svg'))).to.equal(true);

    // A copy whose newest checkpoint is cut short: reported, and the one before it is used.
    const damaged = path.join(dir, 'damaged');
    fs.cpSync(cut, damaged, { recursive: true });
    const w = path.join(damaged, 'checkpoint', 'weights.safetensors');
    const bytes = fs.statSync(w).size;
    fs.truncateSync(w, bytes - 100);
    const prevStep = JSON.parse(fs.readFileSync(path.join(damaged, 'checkpoint-prev', 'trainer_state.json'), 'utf8')).step as number;
    expect(prevStep).to.be.at.most(step);

    // The damaged copy: the first line names the damage and the fallback (that resuming from the
    // fallback ends like an uninterrupted run is shown in-process, test/training/checkpoints.test.ts),
    // then it is stopped.
    const d = startCli(train(damaged, ['--resume']), { onStderrLine: (l, child) => void (l.startsWith('train: ') && child.kill('SIGKILL')) });
    const [r, dr]: CliResult[] = await Promise.all([runCli(train(cut, ['--resume'])), d.done]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.errLines[0]).to.equal(`train: resuming ${cut} from ${path.join(cut, 'checkpoint')} (step ${step})`);
    expect(dr.errLines[0]).to.equal(
      `train: checkpoint ${path.join(damaged, 'checkpoint')} is damaged (weights.safetensors has ${bytes - 100} bytes, ${bytes} were written (truncated?)); resuming from the one before it, ${path.join(damaged, 'checkpoint-prev')} (step ${prevStep})`,
    );
    const want = outcome(full);
    expect(want.log.filter((x) => x.type === 'train')).to.have.length(20);
    expect(outcome(cut)).to.deep.equal(want);
    // The resumed log reads as one run: each step once, a resume record where it continued.
    const resumeRecs = fs.readFileSync(path.join(cut, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type !== 'train' && x.type !== 'eval');
    expect(resumeRecs.map((x) => [x.type, x.step])).to.deep.equal([['start', 0], ['interrupted', step], ['resume', step]]);

    // The two runs on one report page (the curves of the resumed run and the uninterrupted one coincide).
    const page = path.join(dir, 'report.html');
    const rep = await runCli(['report', full, cut, '--out', page]);
    expect(rep.code, rep.stderr).to.equal(0);
    expect(fs.readFileSync(page, 'utf8')).to.contain('resumed 1 time from a checkpoint').and.to.contain('full / student');

    // Restarts that would mix two runs: exit 2, naming why.
    const again = await runCli(train(full));
    expect(again.code).to.equal(2);
    expect(again.errLines[0]).to.equal(`rankdistill: ${full}: holds a finished training run: give --force to set it aside and start anew, or another --out`);
    fs.writeFileSync(cfgFile, JSON.stringify({ ...CONFIG, trainer: { ...CONFIG.trainer, lr: 5e-4 } }));
    fs.rmSync(path.join(cut, 'final'), { recursive: true });
    const other = await runCli(train(cut, ['--resume']));
    expect(other.code).to.equal(2);
    expect(other.errLines[0]).to.equal(
      `rankdistill: ${cut}: was trained with another config, so resuming would mix two runs: config.trainer.lr: (not set) then, 0.0005 now. Resume with the same config, or give --force to set the old run aside and start anew.`,
    );
  });
});
