// `npm run bench:rra`: the RRA-BERT ablation. A plain cross-encoder and RRA-BERT (Token Selection +
// Term Control Layer) start from the same weights (by default the pretrained all-MiniLM-L6-v2 encoder
// with the same seeded fresh 1-logit head), train on the same teacher lists in the same batch order
// for the same number of optimiser steps, for several seeds; both rerank the BM25 top candidates of
// DL20, the BEIR subsets and NovelEval. Reported: nDCG@5/@10 (mean over seeds), paired t-tests and
// randomization tests over queries (per-query nDCG averaged over seeds) of RRA-BERT's [CLS] score
// (TCL dropped) and of s + t against the cross-encoder, the [CLS] scores with vs without the TCL pass,
// and the inference speed of both paths (timed in the same run, interleaved chunk by chunk).
//
// The 13 DL19 queries of the demo's dev split (SeededRandom(13), as src/recipes/distillation.ts) are
// always left out of the training lists. Settings are chosen on them only:
//   --mode dev      train as below, evaluate on the DL19 dev split (never on the test sets)
//   --mode screen   no training: Token Selection statistics of a grid of sources / thresholds / top-k
//                   on the dev pairs with the initial encoder, and the dev nDCG of a ranker that counts
//                   the query tokens a selection covers (is the selection about the query's terms?)
//   --mode test     (default) the ablation on the test sets
//
// Sizes by flag or environment variable (flag wins):
//   --init ID|DIR|none RRA_INIT       encoder (default sentence-transformers/all-MiniLM-L6-v2; none =
//                                     from scratch in the --hidden/--layers shape, TinyBERT-L-2 by default)
//   --seeds N        RRA_SEEDS        seeds (default 3)          --first-seed N RRA_FIRST_SEED (default 1000)
//   --steps N        RRA_STEPS        optimiser steps per model (default 60)
//   --lists N        RRA_LISTS        lists per step (default 4)         --list-size N  RRA_LIST_SIZE (default 8)
//   --eval-top N     RRA_EVAL_TOP     candidates reranked per query (default 30)
//   --max-length N   RRA_MAX_LENGTH   pair length in tokens (default 128)
//   --lr X           RRA_LR           peak learning rate (default 2e-4 pretrained — chosen on the dev split —, 1e-3 from scratch)
//   --systems ce,rra RRA_SYSTEMS      which students to train (default both)
//   --sets dl20,beir,noveleval  RRA_SETS  test sets (default all three)
//   --lambda X --combined X --pooling mean|attention --source embeddings|LAYER --threshold X|none
//   --sel-top-k N --stop-words yes|no (Lucene's 33 English stop words neither selected nor query terms)
//   --loss NAME (default ranknet)  --log-every N (default 5)  --out FILE (default bench/results/rra-<mode>-<time>.json)
// Data: $RANKDISTILL_DATA (default ../shared/data).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CrossEncoder, initBackend, Trainer, readBm25Json, readCorpusTsv, readQrels, type CandidateList, type Qrels, evaluateRun, pairedTTest, randomizationTest, RraBert } from 'rankdistill';
import { selectTokens, specialTokenIds, type RraBertConfig, type TokenSelectionConfig } from 'rankdistill/models';
import { LUCENE_ENGLISH_STOP_WORDS } from 'rankdistill/retrieval';
import { SeededRandom } from 'rankdistill/utils';
import { DEMO_DEFAULTS, defaultDataDir, loadTeacherLists } from 'rankdistill/recipes';
import { benchOptions } from './options.js';

const { opt, num } = benchOptions([
  'mode', 'init', 'seeds', 'first-seed', 'steps', 'lists', 'list-size', 'eval-top', 'max-length', 'hidden', 'layers', 'lambda', 'combined', 'pooling', 'source',
  'threshold', 'sel-top-k', 'stop-words', 'loss', 'lr', 'systems', 'sets', 'log-every', 'out',
]);

const mode = opt('mode', 'RRA_MODE', 'test');
if (!['test', 'dev', 'screen'].includes(mode)) throw new Error(`--mode must be test, dev or screen, got '${mode}'`);
const init = opt('init', 'RRA_INIT', 'sentence-transformers/all-MiniLM-L6-v2');
const pretrained = init !== 'none';
const S = {
  init,
  seeds: num('seeds', 'RRA_SEEDS', 3),
  firstSeed: num('first-seed', 'RRA_FIRST_SEED', 1000),
  steps: num('steps', 'RRA_STEPS', 60),
  listsPerBatch: num('lists', 'RRA_LISTS', 4),
  listSize: num('list-size', 'RRA_LIST_SIZE', 8),
  evalTop: num('eval-top', 'RRA_EVAL_TOP', 30),
  maxLength: num('max-length', 'RRA_MAX_LENGTH', 128),
  loss: opt('loss', 'RRA_LOSS', 'ranknet'),
  lr: num('lr', 'RRA_LR', pretrained ? 2e-4 : 1e-3),
};
const systemsToTrain = opt('systems', 'RRA_SYSTEMS', 'ce,rra').split(',');
const source = opt('source', 'RRA_SOURCE', 'embeddings');
const thr = opt('threshold', 'RRA_THRESHOLD', '0.5');
const stopWords = opt('stop-words', 'RRA_STOP_WORDS', 'no') === 'yes';
const RRA: RraBertConfig = {
  lambda: num('lambda', 'RRA_LAMBDA', 1),
  combinedWeight: num('combined', 'RRA_COMBINED', 0),
  pooling: opt('pooling', 'RRA_POOLING', 'mean') as 'mean' | 'attention',
  selection: { source: source === 'embeddings' ? 'embeddings' : Number(source), threshold: thr === 'none' ? null : Number(thr), topK: num('sel-top-k', 'RRA_SEL_TOP_K', 0) },
};
const logEvery = num('log-every', 'RRA_LOG_EVERY', 5);
const outFile = opt('out', 'RRA_OUT', path.join('bench', 'results', `rra-${mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
const dataDir = defaultDataDir();
const data = (...p: string[]) => path.join(dataDir, ...p);
const scratchShape = { hidden_size: num('hidden', 'RRA_HIDDEN', 128), num_hidden_layers: num('layers', 'RRA_LAYERS', 2) };

interface EvalSet {
  name: string;
  lists: CandidateList[];
  qrels: Qrels;
}

const info = await initBackend();
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
const say = (m: string) => console.log(`[${elapsed()}] ${m}`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
say(`RRA-BERT ablation (${mode}) on ${info.backend} (${info.threads} threads); settings ${JSON.stringify(S)}; rra ${JSON.stringify(RRA)}${stopWords ? '; stop words excluded from selection' : ''}`);

// --- the dev split and the training lists ---------------------------------------------------------
const dl19 = await readBm25Json(data('trec-dl-2019-passage', 'bm25-top100.json'));
// The demo recipe's split (runDistillation with its default seed 13 and 13 dev queries).
const devQids = new Set(new SeededRandom(13).shuffle(dl19.map((c) => c.qid)).slice(0, 13));
const { lists } = await loadTeacherLists({ dataDir, exclude: devQids, dl19 });
say(`training lists: ${lists.length} (Reason-to-Rank groups + DL19 LLM teacher rankings without the ${devQids.size} dev queries); ${S.steps} steps × ${S.listsPerBatch} lists × ≤${S.listSize} docs per model`);

// --- evaluation sets ----------------------------------------------------------------------------
const evalSets: EvalSet[] = [];
if (mode !== 'test') {
  evalSets.push({ name: 'dl19-dev', lists: dl19.filter((c) => devQids.has(c.qid)), qrels: await readQrels(data('trec-dl-2019-passage', 'qrels.txt')) });
} else {
  const sets = opt('sets', 'RRA_SETS', 'dl20,beir,noveleval').split(',');
  if (sets.includes('dl20')) {
    const qrels = await readQrels(data('trec-dl-2020-passage', 'qrels.txt'));
    evalSets.push({ name: 'dl20', lists: (await readBm25Json(data('trec-dl-2020-passage', 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
  }
  for (const name of sets.includes('beir') ? ['trec-covid', 'nfcorpus', 'dbpedia-entity'] : []) {
    const dir = data('beir-bm25-top100-subsets', name);
    if (!fs.existsSync(dir)) continue;
    const qrels = await readQrels(path.join(dir, 'qrels.txt'));
    evalSets.push({ name: `beir/${name}`, lists: (await readBm25Json(path.join(dir, 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
  }
  if (sets.includes('noveleval')) {
    // corpus.tsv is the reference text (data.json differs in whitespace/escaping for some passages).
    const corpus = await readCorpusTsv(data('noveleval-2306', 'corpus.tsv'));
    const nl = (await readBm25Json(data('noveleval-2306', 'data.json'))).map((c) => ({ ...c, hits: c.hits.map((h) => ({ ...h, text: corpus.get(h.docid) ?? h.text })) }));
    evalSets.push({ name: 'noveleval', lists: nl, qrels: await readQrels(data('noveleval-2306', 'qrels.txt')) });
  }
}
const pairsOf = (e: EvalSet) => e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((h) => [c.query, h.text] as [string, string]));
say(`evaluation: ${evalSets.map((e) => `${e.name} ${e.lists.length} q`).join(', ')}; top ${S.evalTop} BM25 candidates reranked`);

/** Per-query nDCG@5/@10 of scores laid out like pairsOf(e). */
function ndcg(e: EvalSet, scores: number[]): { n5: number; n10: number; perQuery10: number[]; perQuery5: number[] } {
  let k = 0;
  const run = new Map(
    e.lists.map((c) => [c.qid, c.hits.slice(0, S.evalTop).map((h, i) => ({ qid: c.qid, docid: h.docid, rank: i + 1, score: scores[k++], tag: 'bench' }))]),
  );
  const r = evaluateRun(e.qrels, run, ['ndcg_cut_5', 'ndcg_cut_10']);
  const qids = e.lists.map((c) => c.qid);
  return {
    n5: r.aggregate.ndcg_cut_5,
    n10: r.aggregate.ndcg_cut_10,
    perQuery5: qids.map((q) => r.perQuery.get(q)?.ndcg_cut_5 ?? 0),
    perQuery10: qids.map((q) => r.perQuery.get(q)?.ndcg_cut_10 ?? 0),
  };
}
// BM25 = the candidate files' order (the dbpedia-entity subset's `score` field holds the rank, 1, 2, …).
const bm25Order = (e: EvalSet) => e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((_, i) => -i));

// --- models ------------------------------------------------------------------------------------
const scratchTokenizer = data(DEMO_DEFAULTS.tokenizer);
const scratchModel = { ...scratchShape, num_attention_heads: Math.max(1, scratchShape.hidden_size / 64), intermediate_size: 4 * scratchShape.hidden_size, max_position_embeddings: 512 };
let reported = false;
/** The cross-encoder of a seed: the pretrained encoder + a fresh head seeded by `seed` (the load report once). */
async function newCrossEncoder(seed: number): Promise<CrossEncoder> {
  if (!pretrained) return new CrossEncoder(scratchModel, { tokenizer: scratchTokenizer, maxLength: S.maxLength, seed });
  const ce = await CrossEncoder.fromPretrained(init, { maxLength: S.maxLength, seed, loadReport: !reported });
  reported = true;
  return ce;
}
/** RRA-BERT of a seed: the same encoder and head as newCrossEncoder(seed), plus the TCL. */
async function newRraBert(seed: number, rra: RraBertConfig): Promise<RraBert> {
  const ce = await newCrossEncoder(seed);
  return new RraBert(ce, { seed, rra: stopWords ? { ...rra, specialIds: [...specialTokenIds(ce.tokenizer), ...stopWordIds(ce)] } : rra });
}
/** Vocabulary ids of Lucene's English stop words (whole-word pieces). */
function stopWordIds(ce: CrossEncoder): number[] {
  return [...LUCENE_ENGLISH_STOP_WORDS].map((w) => ce.tokenizer.inner.tokenToId(w)).filter((x): x is number => typeof x === 'number');
}
const headValues = (ce: CrossEncoder) => ['classifier.weight', 'classifier.bias', 'bert.encoder.layer.0.attention.self.query.weight'].map((n) => Array.from(ce.bert.params.get(n).dataSync()));

const trainerCfg = (seed: number, label: string, comps?: Array<Record<string, number | string>>) => {
  let last = Date.now();
  return {
    loss: S.loss,
    listSize: S.listSize,
    listsPerBatch: S.listsPerBatch,
    maxSteps: S.steps,
    epochs: 100,
    lr: S.lr,
    weightDecay: 0.01,
    warmupRatio: 0.1,
    schedule: 'linear' as const,
    maxGradNorm: 1.0,
    seed,
    progress: false,
    onLog: (r: Record<string, number | string>) => {
      if (r.type !== 'train') return;
      comps?.push(r);
      const step = Number(r.step);
      if (step % logEvery === 0 || step === 1 || step === S.steps) {
        const now = Date.now();
        const extra = ['rank_s', 'rank_t', 'selected'].filter((k) => typeof r[k] === 'number').map((k) => `${k} ${Number(r[k]).toFixed(3)}`).join(', ');
        say(`  seed ${seed} ${label}: step ${step}/${S.steps} loss ${Number(r.loss).toFixed(4)}${extra ? ` (${extra})` : ''}; ${((now - last) / 1000 / (step === 1 ? 1 : Math.min(logEvery, step - 1))).toFixed(1)} s/step`);
        last = now;
      }
    },
  };
};

if (mode === 'screen') {
  await screen();
  process.exit(0);
}

// --- train and evaluate -------------------------------------------------------------------------
type SystemName = 'bm25' | 'cross-encoder' | 'rra [CLS], TCL dropped' | 'rra [CLS] via TCL pass' | 'rra s + t (TCL used)' | 'rra t (TCL alone)';
// system → set → per-seed per-query nDCG@10 / @5
const perQ: Record<string, Record<string, { p10: number[][]; p5: number[][] }>> = {};
const record = (sys: SystemName, e: EvalSet, scores: number[]) => {
  const r = ndcg(e, scores);
  ((perQ[sys] ??= {})[e.name] ??= { p10: [], p5: [] }).p10.push(r.perQuery10);
  perQ[sys][e.name].p5.push(r.perQuery5);
  return r;
};
for (const e of evalSets) record('bm25', e, bm25Order(e));

const timing: Array<{ seed: number; pairs: number; plainSeconds: number; tclSeconds: number; maxClsDiff: number }> = [];
const training: Array<{ seed: number; system: string; seconds: number; firstLoss: number; lastLoss: number; lastComponents?: Record<string, number> }> = [];
const lossSummary = (losses: number[]) => {
  const k = Math.max(1, Math.floor(losses.length / 10));
  return { firstLoss: mean(losses.slice(0, k)), lastLoss: mean(losses.slice(-k)) };
};
const CHUNK = 256;
const evalBatch = 64;

for (let i = 0; i < S.seeds; i++) {
  const seed = S.firstSeed + i;
  let initHead: number[][] | null = null;
  if (systemsToTrain.includes('ce')) {
    const ce = await newCrossEncoder(seed);
    initHead = headValues(ce);
    const trCe = await new Trainer(ce, trainerCfg(seed, 'cross-encoder')).train(lists);
    training.push({ seed, system: 'cross-encoder', seconds: trCe.seconds, ...lossSummary(trCe.losses) });
    for (const e of evalSets) {
      const r = record('cross-encoder', e, await ce.score(pairsOf(e), { batchSize: evalBatch }));
      say(`  seed ${seed} cross-encoder on ${e.name}: nDCG@5 ${r.n5.toFixed(4)} nDCG@10 ${r.n10.toFixed(4)}`);
    }
    ce.dispose();
    say(`seed ${seed}: cross-encoder trained (${trCe.steps} steps, ${trCe.seconds.toFixed(0)} s) and evaluated`);
  }
  if (!systemsToTrain.includes('rra')) continue;

  // RRA-BERT: the same encoder and head initialisation (same seed), same lists and batch order (same trainer seed).
  const rra = await newRraBert(seed, RRA);
  if (initHead) {
    const now = headValues(rra.encoder);
    if (!now.every((v, k) => v.length === initHead![k].length && v.every((x, j) => x === initHead![k][j]))) throw new Error('RRA-BERT does not start from the cross-encoder\'s initial weights');
  }
  const comps: Array<Record<string, number | string>> = [];
  const trR = await new Trainer(rra, trainerCfg(seed, 'rra-bert', comps)).train(lists);
  const tail = comps.slice(-Math.max(1, Math.floor(comps.length / 10)));
  const lastComponents = Object.fromEntries(['rank_s', 'rank_t', 'rank_st', 'selected'].filter((k) => typeof tail[0]?.[k] === 'number').map((k) => [k, mean(tail.map((r) => Number(r[k])))]));
  training.push({ seed, system: 'rra-bert', seconds: trR.seconds, ...lossSummary(trR.losses), lastComponents });
  let plainSeconds = 0;
  let tclSeconds = 0;
  let pairsTimed = 0;
  let maxClsDiff = 0;
  for (const e of evalSets) {
    const pairs = pairsOf(e);
    const plain: number[] = [];
    const both = { s: [] as number[], t: [] as number[] };
    // Interleaved, alternating which path goes first, so load changes on the shared machine hit both alike.
    for (let c = 0, k = 0; c < pairs.length; c += CHUNK, k++) {
      const chunk = pairs.slice(c, c + CHUNK);
      const runPlain = async () => {
        const t = Date.now();
        plain.push(...(await rra.score(chunk, { batchSize: evalBatch })));
        plainSeconds += (Date.now() - t) / 1000;
      };
      const runTcl = async () => {
        const t = Date.now();
        const r = await rra.scoreWithTcl(chunk, { batchSize: evalBatch });
        tclSeconds += (Date.now() - t) / 1000;
        both.s.push(...r.s);
        both.t.push(...r.t);
      };
      if (k % 2 === 0) {
        await runPlain();
        await runTcl();
      } else {
        await runTcl();
        await runPlain();
      }
    }
    pairsTimed += pairs.length;
    plain.forEach((v, j) => (maxClsDiff = Math.max(maxClsDiff, Math.abs(v - both.s[j]))));
    const r = record('rra [CLS], TCL dropped', e, plain);
    record('rra [CLS] via TCL pass', e, both.s);
    const st = record('rra s + t (TCL used)', e, both.s.map((v, j) => v + both.t[j]));
    record('rra t (TCL alone)', e, both.t);
    say(`  seed ${seed} rra-bert on ${e.name}: [CLS] nDCG@5 ${r.n5.toFixed(4)} nDCG@10 ${r.n10.toFixed(4)}; s + t ${st.n5.toFixed(4)} / ${st.n10.toFixed(4)}`);
  }
  timing.push({ seed, pairs: pairsTimed, plainSeconds, tclSeconds, maxClsDiff });
  rra.dispose();
  say(`seed ${seed}: RRA-BERT trained (${trR.steps} steps, ${trR.seconds.toFixed(0)} s) and evaluated; components ${JSON.stringify(lastComponents)}; [CLS] ${(pairsTimed / plainSeconds).toFixed(1)} pairs/s, with TCL ${(pairsTimed / tclSeconds).toFixed(1)} pairs/s`);
}

// --- report -----------------------------------------------------------------------------------
const avgSeeds = (rows: number[][]) => rows[0].map((_, q) => mean(rows.map((r) => r[q])));
const systems = Object.keys(perQ) as SystemName[];
const table: Record<string, Record<string, { ndcg5: number; ndcg10: number; ndcg5PerSeed: number[]; ndcg10PerSeed: number[] }>> = {};
for (const sys of systems) {
  table[sys] = {};
  for (const e of evalSets) {
    const d = perQ[sys][e.name];
    table[sys][e.name] = { ndcg5: mean(avgSeeds(d.p5)), ndcg10: mean(avgSeeds(d.p10)), ndcg5PerSeed: d.p5.map(mean), ndcg10PerSeed: d.p10.map(mean) };
  }
}
const beirSets = evalSets.filter((e) => e.name.startsWith('beir/')).map((e) => e.name);
const groups: Record<string, string[]> = { ...Object.fromEntries(evalSets.map((e) => [e.name, [e.name]])) };
if (beirSets.length) groups['beir (all queries)'] = beirSets;
if (evalSets.length > 1) groups['all queries'] = evalSets.map((e) => e.name);
type Test = { queries: number; mean: number; baseline: number; delta: number; tTestP: number; randomizationP: number; deltaPerSeed: number[] };
const tests: Record<string, Record<string, Test>> = {};
const pooled = (sys: SystemName, names: string[], at: 'p5' | 'p10') => names.flatMap((n) => avgSeeds(perQ[sys][n][at]));
const pooledSeed = (sys: SystemName, names: string[], at: 'p5' | 'p10', s: number) => names.flatMap((n) => perQ[sys][n][at][s]);
if (perQ['cross-encoder'] && perQ['rra [CLS], TCL dropped']) {
  for (const [sys, at] of [['rra [CLS], TCL dropped', 'p10'], ['rra [CLS], TCL dropped', 'p5'], ['rra s + t (TCL used)', 'p10'], ['rra s + t (TCL used)', 'p5']] as const) {
    const key = `${sys} vs cross-encoder, nDCG@${at.slice(1)}`;
    tests[key] = {};
    for (const [g, names] of Object.entries(groups)) {
      const a = pooled(sys, names, at);
      const b = pooled('cross-encoder', names, at);
      tests[key][g] = {
        queries: a.length,
        mean: mean(a),
        baseline: mean(b),
        delta: mean(a) - mean(b),
        tTestP: pairedTTest(a, b).p,
        randomizationP: randomizationTest(a, b, { trials: 10000, seed: 7 }).p,
        deltaPerSeed: Array.from({ length: S.seeds }, (_, s) => mean(pooledSeed(sys, names, at, s)) - mean(pooledSeed('cross-encoder', names, at, s))),
      };
    }
  }
}
const plainT = timing.reduce((s, t) => s + t.plainSeconds, 0);
const tclT = timing.reduce((s, t) => s + t.tclSeconds, 0);
const pairsT = timing.reduce((s, t) => s + t.pairs, 0);
const result = {
  mode,
  settings: { ...S, rra: RRA, stopWords, trainingLists: lists.length, devQueries: [...devQids], backend: info.backend, threads: info.threads },
  table,
  significance: { comparison: 'per-query nDCG averaged over seeds, paired over queries; deltaPerSeed = mean difference of each seed alone', tests },
  inference: timing.length
    ? {
        pairsPerSeed: timing[0].pairs,
        plainPairsPerSecond: pairsT / plainT,
        withTclPairsPerSecond: pairsT / tclT,
        timeRatioWithTclOverPlain: tclT / plainT,
        maxAbsClsScoreDiffWithVsWithoutTcl: Math.max(...timing.map((t) => t.maxClsDiff)),
        perSeed: timing,
      }
    : null,
  training,
  totalSeconds: (Date.now() - t0) / 1000,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

const cols = evalSets.map((e) => e.name);
console.log(`\nnDCG@5 / nDCG@10, mean over ${S.seeds} seed(s), top-${S.evalTop} BM25 candidates reranked`);
console.log(`${'system'.padEnd(26)}${cols.map((c) => c.padStart(22)).join('')}`);
for (const sys of systems) console.log(`${sys.padEnd(26)}${cols.map((c) => `${table[sys][c].ndcg5.toFixed(4)} / ${table[sys][c].ndcg10.toFixed(4)}`.padStart(22)).join('')}`);
for (const [key, byGroup] of Object.entries(tests)) {
  console.log(`\n${key} (paired over queries):`);
  for (const [g, t] of Object.entries(byGroup)) {
    const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
    console.log(`  ${g.padEnd(20)} n=${String(t.queries).padStart(3)}  Δ ${sign(t.delta)} (per seed ${t.deltaPerSeed.map(sign).join(' ')})  t-test p ${t.tTestP.toPrecision(3)}  randomization p ${t.randomizationP.toPrecision(3)}`);
  }
}
if (result.inference) {
  console.log(
    `\ninference: [CLS] only ${result.inference.plainPairsPerSecond.toFixed(1)} pairs/s; with selection + TCL ${result.inference.withTclPairsPerSecond.toFixed(1)} pairs/s (×${result.inference.timeRatioWithTclOverPlain.toFixed(2)} time); max |Δ [CLS] score| with vs without TCL ${result.inference.maxAbsClsScoreDiffWithVsWithoutTcl.toExponential(2)}`,
  );
}
console.log(`results: ${outFile} (${elapsed()})`);

// --- screen: Token Selection of the initial encoder on the dev pairs, no training ----------------
async function screen(): Promise<void> {
  const model = await newRraBert(S.firstSeed, RRA);
  const L = model.config.num_hidden_layers;
  const grid: TokenSelectionConfig[] = [];
  const sources: Array<'embeddings' | number> = ['embeddings', 1, Math.ceil(L / 2), L];
  const thresholds: Record<string, Array<number | null>> = { embeddings: [null, 0.4, 0.5, 0.6, 0.7] };
  for (const src of sources) {
    for (const t of thresholds[String(src)] ?? [null, 0.5, 0.6, 0.7, 0.8, 0.9]) grid.push({ source: src, threshold: t, topK: 0 });
    for (const k of [1, 2]) grid.push({ source: src, threshold: null, topK: k });
  }
  const special = new Set(model.specialIds);
  const stop = new Set(stopWordIds(model.encoder));
  const e = evalSets[0];
  const pairs = pairsOf(e);
  const stats = grid.map(() => ({ selected: 0, docTokens: 0, stopSelected: 0, exact: 0, coverage: [] as number[] }));
  for (let b = 0; b < pairs.length; b += 32) {
    const batch = await model.encodeForTraining(pairs.slice(b, b + 32));
    const tok = batch.tokens;
    const vecs = tf.tidy(() => {
      const out = model.encoder.bert.forward(batch, { outputHiddenStates: true });
      const emb = tf.gather(model.encoder.bert.params.get('bert.embeddings.word_embeddings.weight'), batch.inputIds);
      return [emb, ...out.hiddenStates!];
    });
    const values = vecs.map((v) => v.dataSync());
    const dim = model.config.hidden_size;
    tf.dispose(vecs);
    grid.forEach((cfg, gi) => {
      const src = cfg.source === 'embeddings' ? 0 : 1 + (cfg.source as number);
      const sel = selectTokens(values[src], dim, tok, special, cfg);
      for (let r = 0; r < tok.batch; r++) {
        const qTerms = new Set<number>();
        const covered = new Set<number>();
        for (let j = 0; j < tok.seqLen; j++) {
          const i = r * tok.seqLen + j;
          const id = tok.inputIds[i];
          if (tok.attentionMask[i] === 0 || special.has(id)) continue;
          if (tok.tokenTypeIds[i] === 0) {
            if (!stop.has(id)) qTerms.add(j);
            continue;
          }
          stats[gi].docTokens++;
          if (!sel.mask[i]) continue;
          stats[gi].selected++;
          if (stop.has(id)) stats[gi].stopSelected++;
          if (sel.reason[i] === 1) stats[gi].exact++;
          covered.add(sel.matched[i]);
        }
        // Covered query terms (stop words aside): a lexical/semantic match count with no training.
        stats[gi].coverage.push([...qTerms].filter((q) => covered.has(q)).length / Math.max(1, qTerms.size));
      }
    });
    model.disposeBatch(batch);
  }
  model.dispose();
  const bm25 = bm25Order(e);
  const base = ndcg(e, bm25);
  console.log(`\nToken Selection of the initial encoder (${init}) on ${e.name}: ${pairs.length} pairs; BM25 nDCG@10 ${base.n10.toFixed(4)}`);
  console.log('source      threshold top-k  sel/doc  %doc  %stop  %exact  coverage-ranker nDCG@10');
  const rows = grid.map((cfg, gi) => {
    const st = stats[gi];
    const n = pairs.length;
    // Ties (equal coverage) keep the BM25 order.
    const cov = ndcg(e, st.coverage.map((c, j) => c + 1e-6 * bm25[j])).n10;
    const row = { ...cfg, selectedPerDoc: st.selected / n, fractionOfDocTokens: st.selected / st.docTokens, fractionStopWords: st.stopSelected / Math.max(1, st.selected), fractionExact: st.exact / Math.max(1, st.selected), coverageNdcg10: cov };
    console.log(
      `${String(cfg.source).padEnd(11)} ${String(cfg.threshold ?? 'off').padEnd(9)} ${String(cfg.topK || 'off').padEnd(5)} ${row.selectedPerDoc.toFixed(1).padStart(7)}  ${(100 * row.fractionOfDocTokens).toFixed(0).padStart(4)}  ${(100 * row.fractionStopWords).toFixed(0).padStart(5)}  ${(100 * row.fractionExact).toFixed(0).padStart(6)}  ${cov.toFixed(4)}`,
    );
    return row;
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify({ mode, settings: { ...S, devQueries: [...devQids] }, bm25Ndcg10: base.n10, rows, totalSeconds: (Date.now() - t0) / 1000 }, null, 2)}\n`);
  console.log(`results: ${outFile} (${elapsed()})`);
}
