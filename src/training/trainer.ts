// The training loop: lists → micro-batches → scores → loss → gradients (accumulated, clipped) → AdamW.
// Evaluation, best-model selection, early stopping, checkpoints, logging, curves and a graceful stop
// plug in around it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { writeTrainingCurves } from '../reporting/training-curves.js';
import { InputError } from '../utils/errors.js';
import { libraryVersion } from '../utils/version.js';
import { getLoss } from '../losses/registry.js';
import type { LossResult, RankingLoss } from '../losses/types.js';
import { Progress } from '../utils/progress.js';
import type { TrainingList } from '../data/lists.js';
import { toListGrid } from '../models/list-grid.js';
import { prepareList, type ListSampling } from './list-sampling.js';
import { AdamW, clipByGlobalNorm } from './optimizer.js';
import { SeededRandom } from '../utils/random.js';
import { makeSchedule, type ScheduleName } from './schedules.js';
import type { TrainableRanker } from '../models/ranker.js';

export interface TrainerConfig {
  /** Ranking loss: a registry name (default 'ranknet') or a function. */
  loss?: string | RankingLoss;
  lossOptions?: Record<string, unknown>;
  /** Items per list after sampling/padding (default 20). */
  listSize?: number;
  sampling?: ListSampling;
  /** Lists per micro-batch (default 4). */
  listsPerBatch?: number;
  /** Micro-batches per optimiser step (default 1). */
  accumulationSteps?: number;
  /** Passes over the lists (default 1). */
  epochs?: number;
  /**
   * Shuffle the lists each epoch (default true). false: micro-batches take the lists in the order
   * given (a training plan fixed outside, e.g. shared with another implementation).
   */
  shuffle?: boolean;
  /** Stop after this many optimiser steps. */
  maxSteps?: number;
  lr?: number;
  weightDecay?: number;
  schedule?: ScheduleName;
  /** Warm-up steps; or a fraction of all steps via warmupRatio. */
  warmupSteps?: number;
  warmupRatio?: number;
  /** Global-norm gradient clipping (default 1.0; 0 disables). */
  maxGradNorm?: number;
  /**
   * Variables left as they are: names starting with one of these prefixes (e.g. `bert.embeddings.`
   * keeps a pretrained student's embedding matrices fixed). They get no gradient and no optimiser state.
   */
  freeze?: string[];
  /** Seed of shuffling, list sampling and (through the model) dropout (default 42). */
  seed?: number;
  /**
   * Most (query, document) pairs in one forward pass. A micro-batch with more real pairs is scored
   * in chunks: scores without gradient, the loss gradient w.r.t. the scores, then each chunk's
   * backward pass (the GradCache scheme) — memory for one chunk at a time, one extra forward pass.
   */
  maxPairsPerForward?: number;
  /**
   * Recompute each encoder layer's activations in the backward pass instead of keeping them
   * (gradient checkpointing): much less memory for large models, about one more forward pass of
   * compute. Needs a model that supports it (CrossEncoder does).
   */
  gradientCheckpointing?: boolean;
  /** Dev evaluation, called every `evalEvery` optimiser steps (default: after each epoch). */
  evaluate?: (model: TrainableRanker) => Promise<Record<string, number>>;
  evalEvery?: number;
  /** Metric that picks the best model (default: the first one evaluate returns). */
  metricForBest?: string;
  greaterIsBetter?: boolean;
  /** Restore the best evaluated weights at the end (default true when evaluate is given). */
  restoreBest?: boolean;
  /** Stop after this many evaluations without improvement. */
  patience?: number;
  /** Where the log (log.jsonl), checkpoints and the final model (final/) go. */
  outputDir?: string;
  /** Write a resumable checkpoint every this many optimiser steps (needs outputDir). */
  checkpointEvery?: number;
  /**
   * A checkpoint directory to resume from (weights, optimiser and trainer state). Its checksums are
   * verified; a damaged one is reported and the previous checkpoint (`<dir>-prev`) is used instead.
   */
  resumeFrom?: string;
  /**
   * Stops training at the next optimiser-step boundary when aborted (e.g. on SIGINT): a checkpoint is
   * written (needs outputDir) and train() throws TrainingInterruptedError. Resuming from that
   * checkpoint gives the same result as an uninterrupted run.
   */
  stopSignal?: AbortSignal;
  /** Write curves.svg / curves.png (loss, learning rate, dev metrics, throughput) beside log.jsonl (default true with outputDir). */
  plots?: boolean;
  /** Told of things a user should know that are not errors (a damaged checkpoint skipped). Default: stderr. */
  onNotice?: (message: string) => void;
  /** Log a training record every this many optimiser steps (default 1). */
  logEvery?: number;
  progress?: boolean;
  /** Called with every logged record (as written to log.jsonl). */
  onLog?: (record: Record<string, number | string>) => void;
}

export interface TrainResult {
  steps: number;
  /** Training loss of every optimiser step. */
  losses: number[];
  history: Array<{ step: number; metrics: Record<string, number> }>;
  best: { step: number; metrics: Record<string, number> } | null;
  stoppedEarly: boolean;
  seconds: number;
}

/** Training stopped by `stopSignal` at a step boundary; `checkpoint` holds the state to resume from. */
export class TrainingInterruptedError extends Error {
  constructor(
    readonly step: number,
    readonly checkpoint: string | null,
    readonly reason: unknown,
  ) {
    super(
      `training stopped at optimiser step ${step}` +
        (checkpoint ? `; the state is saved in ${checkpoint} (resume from it to continue exactly where it stopped)` : ' (no outputDir: no checkpoint was written)'),
    );
    this.name = 'TrainingInterruptedError';
  }
}

/** A training loss that is NaN or infinite: training stops, the last good state is kept. */
export class NonFiniteLossError extends Error {
  constructor(readonly step: number, readonly qids: string[], readonly checkpoint: string | null) {
    super(
      `training loss is not finite at optimiser step ${step + 1} (lists of queries ${qids.slice(0, 8).join(', ')})` +
        (checkpoint ? `; the state before this step is saved in ${checkpoint}` : '') +
        '. Lower the learning rate, check the labels, or enable gradient clipping.',
    );
    this.name = 'NonFiniteLossError';
  }
}

interface MicroBatch {
  lists: TrainingList[];
  labels: number[][];
  mask: number[][];
  /** Real (non-padding) pairs, row-major over lists, and each slot's index into them (-1 = padding). */
  pairs: Array<[string, string]>;
  slot: number[];
}

export type Grads = Map<string, tf.Tensor>;

interface TrainerState {
  step: number;
  epoch: number;
  /** Micro-batches of the current epoch already consumed. */
  microInEpoch: number;
  rngState: number | null;
  history: TrainResult['history'];
  best: TrainResult['best'];
  badEvals: number;
  losses: number[];
}

const DEFAULTS = {
  listSize: 20,
  listsPerBatch: 4,
  accumulationSteps: 1,
  epochs: 1,
  lr: 5e-5,
  weightDecay: 0.01,
  schedule: 'linear' as ScheduleName,
  maxGradNorm: 1.0,
  seed: 42,
  logEvery: 1,
};

export class Trainer {
  readonly config: TrainerConfig & typeof DEFAULTS;
  readonly loss: RankingLoss;
  private readonly optimizer: AdamW;

  constructor(readonly model: TrainableRanker, config: TrainerConfig = {}) {
    this.config = { ...DEFAULTS, ...config };
    this.loss = typeof config.loss === 'function' ? config.loss : getLoss(config.loss ?? 'ranknet', config.lossOptions);
    this.optimizer = new AdamW({ lr: this.config.lr, weightDecay: this.config.weightDecay });
    if (config.gradientCheckpointing !== undefined) {
      if (!model.setGradientCheckpointing) throw new Error('gradientCheckpointing: this model does not support gradient checkpointing');
      model.setGradientCheckpointing(config.gradientCheckpointing);
    }
  }

  /** The model's trainable variables minus the frozen ones. */
  trainedVariables(): Map<string, tf.Variable> {
    const frozen = this.config.freeze ?? [];
    const vars = this.model.trainableVariables();
    if (!frozen.length) return vars;
    const out = new Map([...vars].filter(([n]) => !frozen.some((p) => n.startsWith(p))));
    if (!out.size) throw new Error(`freeze [${frozen.join(', ')}] leaves no variable to train`);
    return out;
  }

  /** Groups lists into micro-batches for one epoch (shuffled by a per-epoch seed, so resuming replays it). */
  private epochBatches(lists: TrainingList[], epoch: number): TrainingList[][] {
    const order = this.config.shuffle === false ? lists : new SeededRandom(this.config.seed * 1000003 + epoch).shuffle(lists);
    const out: TrainingList[][] = [];
    for (let i = 0; i < order.length; i += this.config.listsPerBatch) out.push(order.slice(i, i + this.config.listsPerBatch));
    return out;
  }

  private makeMicroBatch(lists: TrainingList[], rng: SeededRandom): MicroBatch {
    const mb: MicroBatch = { lists, labels: [], mask: [], pairs: [], slot: [] };
    for (const l of lists) {
      const p = prepareList(l, this.config.listSize, rng, this.config.sampling);
      mb.labels.push(p.labels);
      mb.mask.push(p.mask);
      p.docs.forEach((d, j) => {
        if (p.mask[j]) {
          mb.slot.push(mb.pairs.length);
          mb.pairs.push([l.query, d]);
        } else mb.slot.push(-1);
      });
    }
    return mb;
  }

  /** Scores [lists, listSize] from the real pairs' scores; padding slots get 0 (masked in the loss). */
  private scatter(real: tf.Tensor1D, mb: MicroBatch): tf.Tensor2D {
    return toListGrid(real, mb.slot, [mb.lists.length, this.config.listSize]);
  }

  private lossOf(scores: tf.Tensor2D, labels: tf.Tensor2D, mask: tf.Tensor2D): LossResult {
    return this.loss(scores, labels, mask);
  }

  /** Gradients of one micro-batch's loss; returns the loss value and named components. */
  private async microStep(mb: MicroBatch, vars: Map<string, tf.Variable>): Promise<{ loss: number; grads: Grads; components: Record<string, number> }> {
    const varList = [...vars.values()];
    const byTfName = new Map([...vars].map(([n, v]) => [v.name, n]));
    const labels = tf.tensor2d(mb.labels);
    const mask = tf.tensor2d(mb.mask);
    const rename = (g: tf.NamedTensorMap): Grads => new Map(Object.entries(g).map(([k, t]) => [byTfName.get(k)!, t]));
    const maxPairs = this.config.maxPairsPerForward ?? Infinity;
    try {
      if (mb.pairs.length <= maxPairs || this.model.trainingLoss) {
        const batch = await this.model.encodeForTraining(mb.pairs);
        try {
          let components: Record<string, tf.Scalar> = {};
          const { value, grads } = tf.variableGrads(() => {
            let r: LossResult;
            if (this.model.trainingLoss) {
              r = this.model.trainingLoss(batch, labels, mask, this.loss, mb.slot);
            } else {
              r = this.lossOf(this.scatter(this.model.forward(batch, true), mb), labels, mask);
            }
            components = Object.fromEntries(Object.entries(r.components ?? {}).map(([k, t]) => [k, tf.keep(t) as tf.Scalar]));
            return r.loss;
          }, varList);
          const loss = (await value.data())[0];
          // Components are read before anything is disposed: one of them may be the loss tensor itself.
          const comps: Record<string, number> = {};
          for (const [k, t] of Object.entries(components)) comps[k] = (await t.data())[0];
          tf.dispose([value, ...Object.values(components).filter((t) => t !== value)]);
          return { loss, grads: rename(grads), components: comps };
        } finally {
          this.model.disposeBatch(batch);
        }
      }
      return await this.chunkedStep(mb, vars, labels, mask, rename);
    } finally {
      labels.dispose();
      mask.dispose();
    }
  }

  /** GradCache: forward without gradient, dLoss/dscores, then per-chunk backward with those weights. */
  private async chunkedStep(
    mb: MicroBatch,
    vars: Map<string, tf.Variable>,
    labels: tf.Tensor2D,
    mask: tf.Tensor2D,
    rename: (g: tf.NamedTensorMap) => Grads,
  ): Promise<{ loss: number; grads: Grads; components: Record<string, number> }> {
    const size = this.config.maxPairsPerForward!;
    const varList = [...vars.values()];
    // Each chunk is tokenized once and kept (token ids only) for its backward pass.
    const chunks: Array<{ start: number; end: number; rng: number | null; batch: unknown }> = [];
    const parts: tf.Tensor1D[] = [];
    for (let s = 0; s < mb.pairs.length; s += size) {
      const end = Math.min(s + size, mb.pairs.length);
      // Same dropout masks in both passes: replay the model's random stream for each chunk.
      const rng = this.model.rngState?.() ?? null;
      const batch = await this.model.encodeForTraining(mb.pairs.slice(s, end));
      chunks.push({ start: s, end, rng, batch });
      parts.push(tf.tidy(() => this.model.forward(batch, true)));
    }
    const real = tf.concat(parts) as tf.Tensor1D;
    tf.dispose(parts);
    const f = (r: tf.Tensor) => this.lossOf(this.scatter(r as tf.Tensor1D, mb), labels, mask).loss;
    const { value, grad } = tf.valueAndGrad(f)(real);
    real.dispose();
    const loss = (await value.data())[0];
    value.dispose();
    let total: Grads | null = null;
    for (const c of chunks) {
      if (c.rng !== null) this.model.setRngState?.(c.rng);
      const upstream = tf.slice(grad, [c.start], [c.end - c.start]);
      const { value: v, grads } = tf.variableGrads(() => tf.sum(tf.mul(this.model.forward(c.batch, true), upstream)) as tf.Scalar, varList);
      v.dispose();
      upstream.dispose();
      this.model.disposeBatch(c.batch);
      total = addInto(total, rename(grads), 1);
    }
    grad.dispose();
    return { loss, grads: total ?? new Map(), components: {} };
  }

  /**
   * Loss and gradients of one optimiser step over micro-batches of lists, each micro-batch weighted
   * by its share of the lists, so k micro-batches give the gradient of one batch of k× size (for
   * losses that average over lists). The caller disposes the gradients.
   */
  async accumulate(group: TrainingList[][], rng: SeededRandom): Promise<{ loss: number; grads: Grads | null; components: Record<string, number> }> {
    const vars = this.trainedVariables();
    const nLists = group.reduce((a, g) => a + g.length, 0);
    let grads: Grads | null = null;
    let loss = 0;
    const components: Record<string, number> = {};
    for (const lists of group) {
      const r = await this.microStep(this.makeMicroBatch(lists, rng), vars);
      const w = lists.length / nLists;
      loss += w * r.loss;
      for (const [k, v] of Object.entries(r.components)) components[k] = (components[k] ?? 0) + w * v;
      grads = addInto(grads, r.grads, w);
    }
    return { loss, grads, components };
  }

  async train(lists: TrainingList[]): Promise<TrainResult> {
    const c = this.config;
    if (!lists.length) throw new Error('no training lists');
    const t0 = Date.now();
    const batchesPerEpoch = Math.ceil(lists.length / c.listsPerBatch);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / c.accumulationSteps);
    const totalSteps = c.maxSteps ?? c.epochs * stepsPerEpoch;
    const warmup = c.warmupSteps ?? Math.round((c.warmupRatio ?? 0) * totalSteps);
    const schedule = makeSchedule({ name: c.schedule, totalSteps, warmupSteps: warmup });
    const vars = this.trainedVariables();
    const logFile = c.outputDir ? path.join(c.outputDir, 'log.jsonl') : null;
    if (c.outputDir) fs.mkdirSync(c.outputDir, { recursive: true });
    const notice = c.onNotice ?? ((m: string) => process.stderr.write(`train: ${m}\n`));
    const log = (rec: Record<string, number | string>) => {
      if (logFile) fs.appendFileSync(logFile, `${JSON.stringify({ time: new Date().toISOString(), ...rec })}\n`);
      c.onLog?.(rec);
    };
    const plots = c.outputDir && (c.plots ?? true);
    let plotted = Date.now();
    const writeCurves = async () => {
      if (!plots) return;
      plotted = Date.now();
      try {
        await writeTrainingCurves(c.outputDir!);
      } catch (e) {
        // Curves are a view of the log: never lose a training run over them.
        notice(`could not draw the training curves: ${(e as Error).message}`);
      }
    };

    let st: TrainerState = { step: 0, epoch: 0, microInEpoch: 0, rngState: null, history: [], best: null, badEvals: 0, losses: [] };
    let bestWeights: Map<string, Float32Array> | null = null;
    if (c.resumeFrom) {
      const r = this.resume(c.resumeFrom, vars, notice);
      st = r.state;
      bestWeights = r.best;
      // Records of steps after the checkpoint are redone: drop them so the log reads as one run.
      if (logFile) trimLog(logFile, st.step);
      log({ type: 'resume', step: st.step, epoch: st.epoch, from: r.dir });
    } else if (logFile) {
      // What this run is, first in its log (the report page shows it): settings, data size, version.
      fs.appendFileSync(logFile, `${JSON.stringify({ time: new Date().toISOString(), type: 'start', step: 0, rankdistill: libraryVersion(), lists: lists.length, totalSteps, config: this.configRecord() })}\n`);
    }
    const progress = new Progress({ total: totalSteps, label: 'train', unit: 'step', start: st.step, silent: !(c.progress ?? true) });
    const greater = c.greaterIsBetter ?? true;
    let stoppedEarly = false;

    const evaluate = async () => {
      if (!c.evaluate) return;
      const metrics = await c.evaluate(this.model);
      st.history.push({ step: st.step, metrics });
      log({ type: 'eval', step: st.step, epoch: st.epoch, ...metrics });
      const key = c.metricForBest ?? Object.keys(metrics)[0];
      const v = metrics[key];
      const better = st.best === null || (greater ? v > st.best.metrics[key] : v < st.best.metrics[key]);
      if (better) {
        st.best = { step: st.step, metrics };
        st.badEvals = 0;
        if (c.restoreBest ?? true) bestWeights = snapshot(vars);
      } else st.badEvals += 1;
      if (c.patience !== undefined && st.badEvals >= c.patience) stoppedEarly = true;
      // Curves of a long run stay current while it trains (at most once a minute: drawing takes a second).
      if (Date.now() - plotted > 60_000) await writeCurves();
    };

    let listsSeen = 0;
    let tWindow = Date.now();
    training: for (; st.epoch < c.epochs || (c.maxSteps !== undefined && st.step < c.maxSteps); st.epoch++) {
      const batches = this.epochBatches(lists, st.epoch);
      for (let b = st.microInEpoch; b < batches.length; b += c.accumulationSteps) {
        if (st.step >= totalSteps) break training;
        const group = batches.slice(b, b + c.accumulationSteps);
        const nLists = group.reduce((a, g) => a + g.length, 0);
        const acc = await this.accumulate(group, new SeededRandom(c.seed * 7919 + st.step));
        const { loss, components: comps } = acc;
        let grads = acc.grads;
        if (!Number.isFinite(loss)) {
          disposeGrads(grads);
          const qids = group.flat().map((l) => l.qid);
          const ck = c.outputDir ? this.saveCheckpoint(path.join(c.outputDir, 'checkpoint-last-good'), vars, { ...st, microInEpoch: b }) : null;
          throw new NonFiniteLossError(st.step, qids, ck);
        }
        let gradNorm = NaN;
        if (c.maxGradNorm > 0 && grads) {
          const clipped = clipByGlobalNorm(grads, c.maxGradNorm);
          disposeGrads(grads);
          grads = clipped.grads;
          gradNorm = clipped.norm;
        }
        const lr = c.lr * schedule(st.step);
        if (grads) this.optimizer.apply(vars, grads, lr);
        disposeGrads(grads);
        st.step += 1;
        st.microInEpoch = b + c.accumulationSteps;
        st.losses.push(loss);
        listsSeen += nLists;
        const now = Date.now();
        const listsPerSec = listsSeen / Math.max(1e-3, (now - tWindow) / 1000);
        progress.tick(1, { loss, lr, 'lists/s': listsPerSec });
        if (st.step % c.logEvery === 0) {
          log({ type: 'train', step: st.step, epoch: st.epoch, loss, lr, grad_norm: gradNorm, lists_per_s: listsPerSec, ...comps });
          listsSeen = 0;
          tWindow = now;
        }
        if (c.evalEvery && st.step % c.evalEvery === 0) await evaluate();
        const checkpointDir = c.outputDir ? path.join(c.outputDir, 'checkpoint') : null;
        if (checkpointDir && c.checkpointEvery && st.step % c.checkpointEvery === 0) {
          this.saveCheckpoint(checkpointDir, vars, st, bestWeights);
        }
        if (c.stopSignal?.aborted && !stoppedEarly && st.step < totalSteps) {
          // A step boundary: everything a resume needs is consistent here.
          progress.finish();
          const ck = checkpointDir ? this.saveCheckpoint(checkpointDir, vars, st, bestWeights) : null;
          log({ type: 'interrupted', step: st.step, epoch: st.epoch, reason: String(c.stopSignal.reason ?? 'aborted') });
          await writeCurves();
          throw new TrainingInterruptedError(st.step, ck, c.stopSignal.reason);
        }
        if (stoppedEarly) break training;
      }
      st.microInEpoch = 0;
      if (!c.evalEvery) await evaluate();
      if (stoppedEarly) break;
    }
    progress.finish();
    // A run cut by maxSteps mid-epoch still ends with an evaluation of its final weights.
    if (!stoppedEarly && st.history[st.history.length - 1]?.step !== st.step) await evaluate();
    if (bestWeights) restore(vars, bestWeights);
    const seconds = (Date.now() - t0) / 1000;
    this.describeRun(st, lists.length, stepsPerEpoch, seconds, stoppedEarly);
    if (c.outputDir) await this.model.save(path.join(c.outputDir, 'final'));
    await writeCurves();
    return { steps: st.step, losses: st.losses, history: st.history, best: st.best, stoppedEarly, seconds };
  }

  /** The config as JSON can hold it (functions and signals left out). */
  private configRecord(): Record<string, unknown> {
    const { evaluate: _e, onLog: _l, onNotice: _n, stopSignal: _s, ...rest } = this.config;
    return JSON.parse(JSON.stringify({ ...rest, loss: typeof this.config.loss === 'function' ? 'custom' : (this.config.loss ?? 'ranknet') })) as Record<string, unknown>;
  }

  /** What the run tells the model card (README.md written by the model's save()): loss, settings, dev results. */
  private describeRun(st: TrainerState, lists: number, stepsPerEpoch: number, seconds: number, stoppedEarly: boolean): void {
    const card = this.model.modelCard;
    if (!card) return;
    const c = this.config;
    card.loss = typeof c.loss === 'function' ? 'a custom loss function' : (c.loss ?? 'ranknet');
    if (c.lossOptions && Object.keys(c.lossOptions).length) card.lossOptions = c.lossOptions;
    const settings: Record<string, unknown> = {
      lr: c.lr,
      schedule: c.schedule,
      warmupSteps: c.warmupSteps ?? (c.warmupRatio ? `${c.warmupRatio} of the steps` : 0),
      weightDecay: c.weightDecay,
      epochs: c.epochs,
      maxSteps: c.maxSteps,
      listSize: c.listSize,
      listsPerBatch: c.listsPerBatch,
      accumulationSteps: c.accumulationSteps,
      sampling: c.sampling ?? 'top-and-random',
      maxGradNorm: c.maxGradNorm,
      seed: c.seed,
    };
    card.settings = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    const k = Math.max(1, Math.floor(st.losses.length / 10));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    card.training = {
      steps: st.step,
      epochs: Number((st.step / stepsPerEpoch).toFixed(2)),
      lists,
      seconds,
      ...(st.losses.length ? { firstLoss: mean(st.losses.slice(0, k)), lastLoss: mean(st.losses.slice(-k)) } : {}),
      ...(stoppedEarly ? { stoppedEarly } : {}),
    };
    if (st.best) {
      const note = `best of ${st.history.length} dev evaluations (step ${st.best.step})${(c.restoreBest ?? true) ? ': the weights saved' : ''}`;
      card.evaluation = [...(card.evaluation ?? []).filter((r) => r.dataset !== 'dev'), ...Object.entries(st.best.metrics).map(([metric, value]) => ({ dataset: 'dev', metric, value, note }))];
    }
  }

  /**
   * Weights, optimiser moments, the best weights so far and the trainer state, with their sha256 in
   * checksums.json, written atomically (a temporary dir, then renames). The checkpoint it replaces is
   * kept as `<dir>-prev`, the fallback when this one turns out damaged.
   */
  private saveCheckpoint(dir: string, vars: Map<string, tf.Variable>, st: TrainerState, best: Map<string, Float32Array> | null = null): string {
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const weights: Record<string, TensorToWrite> = {};
    for (const [n, v] of vars) weights[n] = { shape: v.shape.slice(), values: v.dataSync() as Float32Array };
    writeSafetensors(path.join(tmp, 'weights.safetensors'), weights);
    const os = this.optimizer.getState();
    const moments: Record<string, TensorToWrite> = {};
    for (const [n, m] of os.m) moments[`m.${n}`] = { shape: vars.get(n)!.shape.slice(), values: m };
    for (const [n, v] of os.v) moments[`v.${n}`] = { shape: vars.get(n)!.shape.slice(), values: v };
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
    // The best evaluated weights, restored at the end: without them a resumed run could end differently.
    if (best) writeSafetensors(path.join(tmp, 'best.safetensors'), Object.fromEntries([...best].map(([n, a]) => [n, { shape: vars.get(n)!.shape.slice(), values: a }])));
    const state = { ...st, rngState: this.model.rngState?.() ?? null, optimizerStep: os.step, config: this.configRecord() };
    fs.writeFileSync(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1));
    const files: Record<string, { bytes: number; sha256: string }> = {};
    for (const f of fs.readdirSync(tmp).sort()) {
      const data = fs.readFileSync(path.join(tmp, f));
      files[f] = { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    }
    fs.writeFileSync(path.join(tmp, CHECKSUMS), `${JSON.stringify({ step: st.step, files }, null, 1)}\n`);
    const prev = `${dir}-prev`;
    if (fs.existsSync(dir)) {
      fs.rmSync(prev, { recursive: true, force: true });
      fs.renameSync(dir, prev);
    }
    fs.renameSync(tmp, dir);
    return dir;
  }

  /**
   * Loads `dir`, or when it is damaged (a checksum or size mismatch, a missing or unreadable file)
   * reports why and falls back to `<dir>-prev`. Both damaged: an InputError naming both causes.
   */
  private resume(dir: string, vars: Map<string, tf.Variable>, notice: (m: string) => void): { state: TrainerState; best: Map<string, Float32Array> | null; dir: string } {
    const problems: string[] = [];
    for (const d of [dir, `${dir}-prev`]) {
      if (d !== dir && !fs.existsSync(d)) break;
      const bad = verifyCheckpoint(d);
      if (bad) {
        problems.push(`${d}: ${bad}`);
        if (d === dir) notice(`checkpoint ${d} is damaged (${bad}); trying the previous one, ${dir}-prev`);
        continue;
      }
      const r = this.loadCheckpoint(d, vars);
      if (d !== dir) notice(`resuming from ${d} (step ${r.state.step}) instead`);
      return { ...r, dir: d };
    }
    throw new InputError(`no usable checkpoint to resume from: ${problems.join('; ')}`, { file: dir });
  }

  private loadCheckpoint(dir: string, vars: Map<string, tf.Variable>): { state: TrainerState; best: Map<string, Float32Array> | null } {
    const w = readSafetensors(path.join(dir, 'weights.safetensors'));
    for (const [n, v] of vars) {
      const t = w.tensors.get(n);
      if (!t) throw new Error(`checkpoint ${dir} has no weights for '${n}'`);
      tf.tidy(() => v.assign(tf.tensor(t.values, v.shape)));
    }
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState & { optimizerStep: number };
    const o = readSafetensors(path.join(dir, 'optimizer.safetensors'));
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [k, t] of o.tensors) (k.startsWith('m.') ? m : v).set(k.slice(2), t.values as Float32Array);
    this.optimizer.setState({ step: st.optimizerStep, m, v }, vars);
    if (st.rngState !== null) this.model.setRngState?.(st.rngState);
    const bestFile = path.join(dir, 'best.safetensors');
    const best = fs.existsSync(bestFile) ? new Map([...readSafetensors(bestFile).tensors].map(([n, t]) => [n, t.values as Float32Array])) : null;
    return { state: st, best };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

function addInto(acc: Grads | null, grads: Grads, weight: number): Grads {
  if (!acc) {
    if (weight === 1) return grads;
    const scaled = new Map([...grads].map(([k, g]) => [k, tf.mul(g, weight)]));
    disposeGrads(grads);
    return scaled;
  }
  for (const [k, g] of grads) {
    const prev = acc.get(k);
    acc.set(k, prev ? tf.tidy(() => tf.add(prev, tf.mul(g, weight))) : tf.mul(g, weight));
    prev?.dispose();
    g.dispose();
  }
  return acc;
}

function disposeGrads(g: Grads | null): void {
  if (g) for (const t of g.values()) t.dispose();
}

function snapshot(vars: Map<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...vars].map(([n, v]) => [n, (v.dataSync() as Float32Array).slice()]));
}

function restore(vars: Map<string, tf.Variable>, w: Map<string, Float32Array>): void {
  for (const [n, v] of vars) {
    const a = w.get(n);
    if (a) tf.tidy(() => v.assign(tf.tensor(a, v.shape)));
  }
}

const CHECKSUMS = 'checksums.json';

/**
 * Why a checkpoint directory cannot be trusted (missing, truncated or altered files), or null when
 * every file matches checksums.json. Checkpoints from before checksums were written are accepted
 * when their files are all there.
 */
export function verifyCheckpoint(dir: string): string | null {
  if (!fs.existsSync(dir)) return 'not found';
  const sumsFile = path.join(dir, CHECKSUMS);
  if (!fs.existsSync(sumsFile)) {
    const missing = ['weights.safetensors', 'optimizer.safetensors', 'trainer_state.json'].filter((f) => !fs.existsSync(path.join(dir, f)));
    return missing.length ? `${missing.join(', ')} missing` : null;
  }
  let sums: { files?: Record<string, { bytes: number; sha256: string }> };
  try {
    sums = JSON.parse(fs.readFileSync(sumsFile, 'utf8'));
  } catch (e) {
    return `${CHECKSUMS} unreadable (${(e as Error).message})`;
  }
  for (const [f, want] of Object.entries(sums.files ?? {})) {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) return `${f} missing`;
    const data = fs.readFileSync(p);
    if (data.length !== want.bytes) return `${f} has ${data.length} bytes, ${want.bytes} were written (truncated?)`;
    if (createHash('sha256').update(data).digest('hex') !== want.sha256) return `${f} does not match its sha256 (altered or corrupted)`;
  }
  if (!sums.files?.['weights.safetensors']) return `${CHECKSUMS} lists no weights`;
  return null;
}

/** Drops log records of steps after `step` (they are redone by the resumed run); rewrites atomically. */
function trimLog(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const kept = lines.filter((l) => {
    if (!l.trim()) return false;
    try {
      const r = JSON.parse(l) as { step?: unknown };
      return !(typeof r.step === 'number' && r.step > step);
    } catch {
      return false; // the cut last line of a killed run
    }
  });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, kept.map((l) => `${l}\n`).join(''));
  fs.renameSync(tmp, file);
}
