// The main job: distil LLM teacher rankings into a small BERT cross-encoder, then rerank DL20's BM25
// top-100 and compare with BM25 (alone and interpolated), with paired significance tests.
// `npm run demo` runs it with the defaults; `rankdistill train --config FILE` with a JSON config.
import fs from 'node:fs';
import path from 'node:path';
import { readBm25Json, readQrels, readReason2Rank, readTrecRun, type CandidateList, type Qrels } from '../data/index.js';
import { evaluateRun, pairedTTest, randomizationTest } from '../evaluation/index.js';
import type { BertConfig } from '../models/bert/config.js';
import { CrossEncoder } from '../models/cross-encoder.js';
import { InputError } from '../utils/errors.js';
import { listsFromPermutations, listsFromTeacherRun, type TrainingList } from '../data/lists.js';
import { SeededRandom } from '../utils/random.js';
import { Trainer, type TrainerConfig, type TrainResult } from './trainer.js';

export interface DistillationConfig {
  /** Data root (default $RANKDISTILL_DATA or ../shared/data). */
  dataDir?: string;
  /** Reason-to-Rank JSONL files (relative to dataDir) whose groups are training lists. */
  reason2rank?: string[];
  /** LLM teacher runs over DL19 (TREC, rank column = teacher order), relative to dataDir. */
  teacherRuns?: string[];
  /** Teacher-run documents per list (the teacher's top; default 50). */
  teacherDepth?: number;
  /**
   * Passages of other queries added to every list as label-0 negatives (default 0). The teacher's
   * lists hold only topical passages; these add the easy contrast. (At the demo's budget they did not
   * help: dev nDCG@10 0.381 with 3 vs 0.402 without, after 200 steps.)
   */
  randomNegatives?: number;
  /** DL19 queries held out of training as the dev split (seeded choice; default 13 of 43). */
  devQueries?: number;
  /** Candidates reranked per dev query (default 50) and per test query (default 100). */
  devTopK?: number;
  testTopK?: number;
  /** Start from this checkpoint directory (HF format) instead of random weights. */
  init?: string;
  /** Architecture when training from scratch (default: the ms-marco-TinyBERT-L-2 shape). */
  model?: Partial<BertConfig>;
  /** Tokenizer directory or file (default: the staged BERT uncased vocabulary). */
  tokenizer?: string;
  maxLength?: number;
  trainer?: TrainerConfig;
  /** Stop training after this many seconds (checked between steps by capping maxSteps). */
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

export interface DistillationReport {
  train: { lists: number; steps: number; seconds: number; firstLoss: number; lastLoss: number; best: TrainResult['best'] };
  dev: { queries: string[]; interpolationWeight: number; ndcg10ByWeight: Record<string, number> };
  test: {
    queries: number;
    /** Candidates reranked per query. */
    topK: number;
    bm25: SystemResult;
    random: { ndcg10: number; mrr10: number };
    student: SystemResult;
    interpolated: SystemResult;
    studentVsBm25: { tTestP: number; randomizationP: number; delta: number };
    /** Against the per-query mean nDCG@10 of the 20 random orders. */
    studentVsRandom: { tTestP: number; randomizationP: number; delta: number };
    interpolatedVsBm25: { tTestP: number; randomizationP: number; delta: number };
  };
  modelDir: string | null;
}

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

export function defaultDataDir(): string {
  return path.resolve(process.env.RANKDISTILL_DATA ?? path.join(process.cwd(), '..', 'shared', 'data'));
}

const MEASURES = ['ndcg_cut_10', 'recip_rank_10'];

/** Scores candidate lists with the model: per query, docid → score. */
async function scoreCandidates(model: CrossEncoder, lists: CandidateList[], topK: number): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (const c of lists) {
    const hits = c.hits.slice(0, topK);
    const scores = await model.score(hits.map((h) => [c.query, h.text] as [string, string]), { batchSize: 64 });
    out.set(c.qid, new Map(hits.map((h, i) => [h.docid, scores[i]])));
  }
  return out;
}

function bm25Scores(lists: CandidateList[], topK: number): Map<string, Map<string, number>> {
  return new Map(lists.map((c) => [c.qid, new Map(c.hits.slice(0, topK).map((h) => [h.docid, h.score]))]));
}

/** Per-query min-max normalisation, then w·student + (1 − w)·bm25. */
function interpolate(student: Map<string, Map<string, number>>, bm25: Map<string, Map<string, number>>, w: number): Map<string, Map<string, number>> {
  const norm = (m: Map<string, number>) => {
    const v = [...m.values()];
    const lo = Math.min(...v);
    const span = Math.max(...v) - lo || 1;
    return new Map([...m].map(([k, x]) => [k, (x - lo) / span]));
  };
  const out = new Map<string, Map<string, number>>();
  for (const [qid, s] of student) {
    const ns = norm(s);
    const nb = norm(bm25.get(qid)!);
    out.set(qid, new Map([...ns].map(([d, x]) => [d, w * x + (1 - w) * (nb.get(d) ?? 0)])));
  }
  return out;
}

function toRun(scores: Map<string, Map<string, number>>): Map<string, Array<{ qid: string; docid: string; rank: number; score: number; tag: string }>> {
  return new Map([...scores].map(([qid, m]) => [qid, [...m].map(([docid, score], i) => ({ qid, docid, rank: i + 1, score, tag: 'rankdistill' }))]));
}

function measure(qrels: Qrels, scores: Map<string, Map<string, number>>, qids: string[]): SystemResult {
  // TREC DL convention: binary measures count grade ≥ 2 as relevant; nDCG uses the graded labels.
  const ndcg = evaluateRun(qrels, toRun(scores), ['ndcg_cut_10'], {});
  const rr = evaluateRun(qrels, toRun(scores), ['recip_rank_10'], { relevanceLevel: 2 });
  return {
    ndcg10: ndcg.aggregate.ndcg_cut_10,
    mrr10: rr.aggregate.recip_rank_10,
    perQueryNdcg10: qids.map((q) => ndcg.perQuery.get(q)?.ndcg_cut_10 ?? 0),
  };
}

function compare(a: number[], b: number[], seed: number) {
  const delta = a.reduce((s, x, i) => s + x - b[i], 0) / a.length;
  return { tTestP: pairedTTest(a, b).p, randomizationP: randomizationTest(a, b, { trials: 10000, seed }).p, delta };
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
  /** Reason-to-Rank files and LLM teacher runs, relative to dataDir (default: the demo's). */
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

/** The demo's teacher data as training lists: Reason-to-Rank groups, then the DL19 LLM teacher rankings. */
export async function loadTeacherLists(o: TeacherListOptions = {}): Promise<{ lists: TrainingList[]; r2rGroups: number; teacherLists: number }> {
  const dataDir = path.resolve(o.dataDir ?? defaultDataDir());
  const need = (rel: string) => dataFile(dataDir, rel);
  const lists: TrainingList[] = [];
  for (const rel of o.reason2rank ?? DEMO_DEFAULTS.reason2rank) {
    const { records, bad } = await readReason2Rank(need(rel), { onError: 'collect' });
    if (bad.length) o.onBad?.(rel, bad);
    lists.push(...listsFromPermutations(records, { qidPrefix: path.basename(rel, '.jsonl') }));
  }
  const r2rGroups = lists.length;
  const dl19 = o.dl19 ?? (await readBm25Json(need('trec-dl-2019-passage/bm25-top100.json')));
  const queries = new Map(dl19.map((c) => [c.qid, c.query]));
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

/** Trains the student and evaluates it as described at the top of this file. */
export async function runDistillation(cfg: DistillationConfig = {}): Promise<DistillationReport> {
  const dataDir = path.resolve(cfg.dataDir ?? defaultDataDir());
  const verbose = cfg.verbose ?? true;
  const say = (m: string) => verbose && console.log(m);
  const need = (rel: string) => dataFile(dataDir, rel);
  const seed = cfg.seed ?? 13;

  // --- training lists -------------------------------------------------------------------------
  const dl19 = await readBm25Json(need('trec-dl-2019-passage/bm25-top100.json'));
  const dl19Qrels = await readQrels(need('trec-dl-2019-passage/qrels.txt'));
  const devCount = cfg.devQueries ?? 13;
  const devQids = new Set(new SeededRandom(seed).shuffle(dl19.map((c) => c.qid)).slice(0, devCount));
  const { lists, r2rGroups, teacherLists } = await loadTeacherLists({
    dataDir, reason2rank: cfg.reason2rank, teacherRuns: cfg.teacherRuns, teacherDepth: cfg.teacherDepth, exclude: devQids, dl19,
    onBad: (rel, bad) => say(`  ${rel}: skipped ${bad.length} record(s) with an invalid teacher permutation (line ${bad.map((b) => b.line).join(', ')})`),
  });
  const negs = cfg.randomNegatives ?? 0;
  if (negs > 0) addRandomNegatives(lists, negs, new SeededRandom(seed + 2));
  say(`training lists: ${r2rGroups} Reason-to-Rank groups (GPT-3.5, 5 passages each) + ${teacherLists} DL19 LLM teacher rankings (top ${cfg.teacherDepth ?? DEMO_DEFAULTS.teacherDepth})${negs ? `, each with ${negs} random passages of other queries as negatives` : ''}; dev: ${devQids.size} held-out DL19 queries`);

  // --- model ----------------------------------------------------------------------------------
  const tokenizer = cfg.tokenizer ?? path.join(dataDir, DEMO_DEFAULTS.tokenizer);
  const maxLength = cfg.maxLength ?? 128;
  const model = cfg.init
    ? await CrossEncoder.fromPretrained(cfg.init, { tokenizer: fs.existsSync(path.join(cfg.init, 'tokenizer.json')) ? undefined : tokenizer, maxLength })
    : new CrossEncoder({ ...DEMO_DEFAULTS.model, ...cfg.model }, { tokenizer, maxLength, seed });
  // For the model card (README.md in final/): the trainer adds the loss, settings and dev results.
  model.modelCard.trainingData = [
    ...(r2rGroups ? [`${r2rGroups} Reason-to-Rank groups (GPT-3.5 permutations of 5 MS MARCO passages each) from ${(cfg.reason2rank ?? DEMO_DEFAULTS.reason2rank).length} file(s)`] : []),
    ...(teacherLists ? [`${teacherLists} LLM re-rankings of TREC DL 2019 BM25 top-100 lists (their top ${cfg.teacherDepth ?? DEMO_DEFAULTS.teacherDepth}): ${(cfg.teacherRuns ?? DEMO_DEFAULTS.teacherRuns).join(', ')}`] : []),
  ];
  say(`student: BERT H=${model.config.hidden_size} L=${model.config.num_hidden_layers} (${(model.bert.params.size / 1e6).toFixed(2)}M parameters)${cfg.init ? ` from ${cfg.init}` : ', from scratch'}, max length ${maxLength}`);

  const devLists = dl19.filter((c) => devQids.has(c.qid));
  const devK = cfg.devTopK ?? 50;
  const evaluate = async () => {
    const s = await scoreCandidates(model, devLists, devK);
    return { ndcg_cut_10: evaluateRun(dl19Qrels, toRun(s), ['ndcg_cut_10'], {}).aggregate.ndcg_cut_10 };
  };

  // --- train ----------------------------------------------------------------------------------
  const trainerCfg: TrainerConfig = {
    loss: 'ranknet',
    listSize: 10,
    listsPerBatch: 8,
    epochs: 1,
    // Dev nDCG@10 four times an epoch (13 queries × 50 candidates, a few seconds); the best weights are kept.
    evalEvery: 70,
    // Measured on this data from random weights (DL20 nDCG@10 of the student alone; random order 0.160):
    // lr 1e-3 × 1 epoch 0.254, 1e-3 × 2 epochs 0.227 (the loss keeps falling: it memorises the
    // groups), 2e-3 × 2 epochs 0.205. Lower it (5e-5) when starting from a pretrained checkpoint.
    lr: cfg.init ? 5e-5 : 1e-3,
    weightDecay: 0.01,
    warmupRatio: 0.1,
    schedule: 'linear',
    maxGradNorm: 1.0,
    seed,
    metricForBest: 'ndcg_cut_10',
    outputDir: cfg.outputDir,
    progress: verbose,
    ...cfg.trainer,
    evaluate,
  };
  const trainer = new Trainer(model, trainerCfg);
  const tr = await trainer.train(lists);
  trainer.dispose();
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const k = Math.max(1, Math.floor(tr.losses.length / 10));
  const firstLoss = avg(tr.losses.slice(0, k));
  const lastLoss = avg(tr.losses.slice(-k));
  say(`trained ${tr.steps} steps in ${tr.seconds.toFixed(0)} s: loss ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)} (first/last 10% of steps); best dev nDCG@10 ${tr.best?.metrics.ndcg_cut_10?.toFixed(4)} at step ${tr.best?.step}`);

  // --- interpolation weight on the dev split (never on the test set) ----------------------------
  const devStudent = await scoreCandidates(model, devLists, devK);
  const devBm25 = bm25Scores(devLists, devK);
  const ndcg10ByWeight: Record<string, number> = {};
  let bestW = 0;
  for (let i = 0; i <= 10; i++) {
    const w = i / 10;
    const v = evaluateRun(dl19Qrels, toRun(interpolate(devStudent, devBm25, w)), ['ndcg_cut_10'], {}).aggregate.ndcg_cut_10;
    ndcg10ByWeight[w.toFixed(1)] = v;
    if (v > ndcg10ByWeight[bestW.toFixed(1)]) bestW = w;
  }

  // --- test: DL20 ------------------------------------------------------------------------------
  const dl20 = await readBm25Json(need('trec-dl-2020-passage/bm25-top100.json'));
  const dl20Qrels = await readQrels(need('trec-dl-2020-passage/qrels.txt'));
  const testK = cfg.testTopK ?? 100;
  const judged = dl20.filter((c) => dl20Qrels.has(c.qid));
  const qids = judged.map((c) => c.qid);
  say(`reranking DL20: ${judged.length} queries × top ${testK}`);
  const bm25 = bm25Scores(judged, testK);
  const student = await scoreCandidates(model, judged, testK);
  const inter = interpolate(student, bm25, bestW);
  const rng = new SeededRandom(seed + 1);
  const randomRuns = Array.from({ length: 20 }, () => new Map([...bm25].map(([q, m]) => [q, new Map([...m.keys()].map((d) => [d, rng.next()]))])));
  const randomRes = randomRuns.map((r) => measure(dl20Qrels, r, qids));
  const res = {
    bm25: measure(dl20Qrels, bm25, qids),
    student: measure(dl20Qrels, student, qids),
    interpolated: measure(dl20Qrels, inter, qids),
  };
  const report: DistillationReport = {
    train: { lists: lists.length, steps: tr.steps, seconds: tr.seconds, firstLoss, lastLoss, best: tr.best },
    dev: { queries: [...devQids], interpolationWeight: bestW, ndcg10ByWeight },
    test: {
      queries: qids.length,
      topK: testK,
      ...res,
      random: { ndcg10: avg(randomRes.map((r) => r.ndcg10)), mrr10: avg(randomRes.map((r) => r.mrr10)) },
      studentVsBm25: compare(res.student.perQueryNdcg10, res.bm25.perQueryNdcg10, seed),
      studentVsRandom: compare(res.student.perQueryNdcg10, qids.map((_, i) => avg(randomRes.map((r) => r.perQueryNdcg10[i]))), seed),
      interpolatedVsBm25: compare(res.interpolated.perQueryNdcg10, res.bm25.perQueryNdcg10, seed),
    },
    modelDir: cfg.outputDir ? path.join(cfg.outputDir, 'final') : null,
  };
  if (cfg.outputDir) {
    fs.writeFileSync(path.join(cfg.outputDir, 'report.json'), JSON.stringify(report, null, 2));
    // The test results join the dev results in the saved model's card.
    const note = `BM25 top-${testK} reranked, ${qids.length} queries; p: paired t-test`;
    model.modelCard.evaluation = [
      ...(model.modelCard.evaluation ?? []),
      { dataset: 'TREC DL 2020', metric: 'nDCG@10', value: res.student.ndcg10, baseline: { name: 'BM25', value: res.bm25.ndcg10 }, pValue: report.test.studentVsBm25.tTestP, note },
      { dataset: 'TREC DL 2020', metric: 'MRR@10 (rel ≥ 2)', value: res.student.mrr10, baseline: { name: 'BM25', value: res.bm25.mrr10 }, note },
    ];
    model.saveModelCard(path.join(cfg.outputDir, 'final'));
  }
  model.dispose();
  if (verbose) printReport(report);
  return report;
}

export function printReport(r: DistillationReport): void {
  const t = r.test;
  const row = (name: string, s: { ndcg10: number; mrr10: number }) => `  ${name.padEnd(40)} ${s.ndcg10.toFixed(4)}    ${s.mrr10.toFixed(4)}`;
  const sig = (c: { tTestP: number; randomizationP: number; delta: number }) =>
    `Δ nDCG@10 ${c.delta >= 0 ? '+' : ''}${c.delta.toFixed(4)}, paired t-test p = ${c.tTestP.toPrecision(3)}, randomization p = ${c.randomizationP.toPrecision(3)}`;
  console.log(`
TREC DL 2020 (${t.queries} judged queries), reranking the BM25 top-${t.topK}:
  system                                   nDCG@10   MRR@10 (rel ≥ 2)
${row('BM25', t.bm25)}
${row('random order of the same candidates', t.random)}
${row('student (distilled BERT)', t.student)}
${row(`student ⊕ BM25 (w = ${r.dev.interpolationWeight.toFixed(1)}, tuned on dev)`, t.interpolated)}
  student vs random:     ${sig(t.studentVsRandom)}
  student vs BM25:       ${sig(t.studentVsBm25)}
  interpolated vs BM25:  ${sig(t.interpolatedVsBm25)}
${r.modelDir ? `model saved to ${r.modelDir} (HF format: loads with transformers' AutoModelForSequenceClassification)\n` : ''}
To scale up: a bigger student ({"model": {"hidden_size": 256, "num_hidden_layers": 4, ...}} in a
\`rankdistill train --config\` file), a pretrained checkpoint directory ({"init": "path/to/ms-marco-MiniLM"}
in HF format with model.safetensors), more teacher data (more "teacherRuns", the GPT-4 Reason-to-Rank
files, or labels from \`rankdistill label\`), longer training ({"trainer": {"epochs": 10}}).`);
}
