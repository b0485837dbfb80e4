import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import { checkpointFiles } from '../../io/checkpoint.js';
import { readJsonObject } from '../../io/json.js';
import { defaultDataDir, runDistillation, type DistillationConfig } from '../../recipes/index.js';
import { NonFiniteLossError, TrainingInterruptedError, verifyCheckpoint } from '../../training/trainer.js';
import { InputError } from '../../utils/errors.js';
import { ExitCode, signalCode } from '../exit-codes.js';
import { asideName, fileSha256, makeManifest, manifestFileFor, readManifest, settingsDiff, writeManifest } from '../manifest.js';

export const usage = `usage: rankdistill train [--config FILE] [--data DIR] [--out DIR] [--init CHECKPOINT] [--resume | --force]

Distils LLM teacher rankings into a student and evaluates it on TREC DL 2020 against BM25 and the
untouched checkpoint (the recipe of \`npm run demo\`). Without --config the demo defaults are used:
sentence-transformers/all-MiniLM-L6-v2 (fetched on first use) as a late-interaction student. The
config is JSON with the fields of DistillationConfig; examples/configs/ has the from-scratch
cross-encoder (from-scratch.json) and every variant of docs/recipes.md, e.g.
  {"student": {"kind": "cross-encoder", "pooling": "mean"},
   "trainer": {"lr": 5e-5, "maxSteps": 100, "listSize": 16, "listsPerBatch": 4, "checkpointEvery": 50}}
--data overrides dataDir (default $RANKDISTILL_DATA or ../shared/data); --out saves the log
(log.jsonl), the curves beside it (curves.svg, curves.png), the report, checkpoints and the model (HF
format, with a README.md model card); --init starts from another checkpoint (a Hub id or a folder).
\`rankdistill report DIR\` renders the run as one HTML page.

Ctrl-C (SIGINT) or SIGTERM stops at the next optimiser step: a checkpoint is written to DIR/checkpoint
and the command exits with 130 (143 for SIGTERM); a second signal stops at once. --resume continues
from the newest intact checkpoint (checksums are verified; a damaged one is reported and the one
before it, DIR/checkpoint-prev, is used) and ends exactly as an uninterrupted run would.
DIR/manifest.json records the config: --resume with another config is refused, naming each
difference; --force sets an earlier run in DIR aside (DIR.replaced-TIME) and starts anew.

exit status: 0 done; 2 bad input (config, data, an earlier run in --out, nothing to resume);
4 training failed (a non-finite loss: the state before it is saved); 130/143 interrupted after
writing a checkpoint; 1 an unexpected error.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      init: { type: 'string' },
      resume: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  const cfg = (values.config ? readJsonObject(values.config, 'the training config') : {}) as DistillationConfig;
  if (values.data) cfg.dataDir = values.data;
  if (values.out) cfg.outputDir = values.out;
  if (values.init) cfg.init = values.init;
  if (values.resume && values.force) throw new InputError('give --resume or --force, not both', { field: '--resume' });
  if ((values.resume || values.force) && !cfg.outputDir) throw new InputError(`--${values.resume ? 'resume' : 'force'} needs --out (the run's folder)`, { field: '--out' });
  if (cfg.trainer?.resumeFrom) throw new InputError('use --resume (with --out) rather than trainer.resumeFrom in the config', { file: values.config, field: 'trainer.resumeFrom' });

  if (cfg.outputDir) prepareOutput(cfg, await trainSettings(cfg), { resume: values.resume, force: values.force, config: values.config });

  // The first signal stops at the next step boundary with a checkpoint; a second one at once.
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      console.error(`train: ${sig} again: stopping at once (the last checkpoint stays)`);
      process.exit(signalCode(sig));
    }
    console.error(`train: ${sig} received: stopping at the next optimiser step${cfg.outputDir ? ' and writing a checkpoint' : ' (no --out: no checkpoint)'}; send it again to stop at once`);
    stop.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const info = await initBackend();
    console.log(`backend: ${info.backend} (${info.package}@${info.version})`);
    cfg.trainer = { ...cfg.trainer, stopSignal: stop.signal };
    await runDistillation(cfg);
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      // The run cannot go on with these settings: the cause, not a stack.
      console.error(`train: stopping: ${e.message}`);
      return ExitCode.NOTHING_DONE;
    }
    if (!(e instanceof TrainingInterruptedError)) throw e;
    const sig = (e.reason as NodeJS.Signals | undefined) ?? 'SIGINT';
    console.error(
      `train: stopped at optimiser step ${e.step}` +
        (e.checkpoint ? `; checkpoint ${e.checkpoint}. Continue with: rankdistill train ${argv.filter((a) => a !== '--force').join(' ')} --resume` : ''),
    );
    return signalCode(sig);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** What a run's results depend on (compared on --resume): the config without paths, and the init weights. */
async function trainSettings(cfg: DistillationConfig): Promise<Record<string, unknown>> {
  const { outputDir: _o, dataDir: _d, init, ...rest } = cfg;
  return { config: JSON.parse(JSON.stringify(rest)) as Record<string, unknown>, init: init ? await fileSha256(checkpointFiles(init).weightsFile) : null };
}

/** Checks --out against an earlier run in it (see the usage) and records the manifest. */
function prepareOutput(cfg: DistillationConfig, settings: Record<string, unknown>, o: { resume: boolean; force: boolean; config?: string }): void {
  const dir = cfg.outputDir!;
  const manifestFile = manifestFileFor(dir, 'dir');
  const manifest = makeManifest('train', settings, { dataDir: path.resolve(cfg.dataDir ?? defaultDataDir()), init: cfg.init ?? null, config: o.config ?? null });
  const used = fs.existsSync(dir) && fs.readdirSync(dir).length > 0;
  const checkpoint = path.join(dir, 'checkpoint');
  if (o.force && used) {
    const aside = asideName(dir);
    fs.renameSync(dir, aside);
    console.error(`train: --force: the earlier run is set aside as ${aside}`);
  }
  if (o.resume) {
    const prev = readManifest(manifestFile);
    if (!prev) throw new InputError('nothing to resume here: no manifest.json of a training run', { file: dir });
    const diff = settingsDiff(prev.settings, settings);
    if (diff.length) {
      throw new InputError(
        `was trained with another config, so resuming would mix two runs: ${diff.join('; ')}. Resume with the same config, or give --force to set the old run aside and start anew.`,
        { file: dir },
      );
    }
    if (fs.existsSync(path.join(dir, 'final'))) throw new InputError('nothing to resume: the run finished (final/ is there); --force starts anew', { file: dir });
    if (![checkpoint, `${checkpoint}-prev`].some((d) => fs.existsSync(d))) {
      throw new InputError('nothing to resume: no checkpoint (the run stopped before its first one); --force starts anew', { file: dir });
    }
    // The newest intact checkpoint: a damaged one (checksums) is reported and the one before it used.
    let from = checkpoint;
    const bad = verifyCheckpoint(checkpoint);
    if (bad) {
      from = `${checkpoint}-prev`;
      const badPrev = verifyCheckpoint(from);
      if (badPrev) throw new InputError(`no intact checkpoint to resume from: ${checkpoint}: ${bad}; ${from}: ${badPrev}. --force starts anew`, { file: dir });
      console.error(`train: checkpoint ${checkpoint} is damaged (${bad}); resuming from the one before it, ${from} (step ${readStep(from)})`);
    } else {
      console.error(`train: resuming ${dir} from ${from} (step ${readStep(from)})`);
    }
    cfg.trainer = { ...cfg.trainer, resumeFrom: from };
    return;
  }
  if (used && !o.force) {
    if (fs.existsSync(path.join(dir, 'final'))) throw new InputError('holds a finished training run: give --force to set it aside and start anew, or another --out', { file: dir });
    const st = fs.existsSync(checkpoint) ? ` (stopped; a checkpoint at step ${readStep(checkpoint)})` : '';
    throw new InputError(`holds an earlier training run${st}: give --resume to continue it, or --force to set it aside and start anew`, { file: dir });
  }
  writeManifest(manifestFile, manifest);
}

function readStep(checkpoint: string): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(checkpoint, 'trainer_state.json'), 'utf8')) as { step: number }).step);
  } catch {
    return '?';
  }
}
