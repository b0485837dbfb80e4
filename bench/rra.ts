// `npm run bench:rra`: the RRA-BERT ablation. A plain cross-encoder and RRA-BERT (Token Selection +
// Term Control Layer) are trained from the same initial weights, on the same teacher lists, in the
// same batch order, for the same number of optimiser steps, for several seeds; both rerank DL20,
// the BEIR subsets and NovelEval. Reported: nDCG@5/@10 (mean over seeds), a paired t-test and a
// randomization test over queries (per-query nDCG@10 averaged over seeds), and for RRA-BERT the
// nDCG with and without the TCL at inference and the inference time of both paths.
//
// Sizes by flag or environment variable (flag wins):
//   --seeds N        RRA_SEEDS        seeds (default 3)
//   --steps N        RRA_STEPS        optimiser steps per model (default 100)
//   --lists N        RRA_LISTS        lists per step (default 8)        --list-size N  RRA_LIST_SIZE (default 8)
//   --eval-top N     RRA_EVAL_TOP     candidates reranked per query (default 30)
//   --max-length N   RRA_MAX_LENGTH   pair length in tokens (default 128)
//   --hidden N --layers N             student shape (default 128, 2: the TinyBERT-L-2 shape)
//   --lambda X --combined X --pooling mean|attention --source embeddings|LAYER --threshold X --sel-top-k N
//   --loss NAME (default ranknet)  --lr X (default 1e-3)  --out FILE (default bench/results/rra-<time>.json)
// Data: $RANKDISTILL_DATA (default ../shared/data).
import fs from 'node:fs';
import path from 'node:path';
import { CrossEncoder, initBackend, Trainer, readBm25Json, readCorpusTsv, readQrels, type CandidateList, type Qrels, evaluateRun, pairedTTest, randomizationTest, RraBert } from 'rankdistill';
import type { RraBertConfig } from 'rankdistill/models';
import { DEMO_DEFAULTS, defaultDataDir, loadTeacherLists } from 'rankdistill/recipes';
import { benchOptions } from './options.js';

const { opt, num } = benchOptions(['seeds', 'steps', 'lists', 'list-size', 'eval-top', 'max-length', 'hidden', 'layers', 'lambda', 'combined', 'pooling', 'source', 'threshold', 'sel-top-k', 'loss', 'lr', 'out']);

const S = {
  seeds: num('seeds', 'RRA_SEEDS', 3),
  steps: num('steps', 'RRA_STEPS', 100),
  listsPerBatch: num('lists', 'RRA_LISTS', 8),
  listSize: num('list-size', 'RRA_LIST_SIZE', 8),
  evalTop: num('eval-top', 'RRA_EVAL_TOP', 30),
  maxLength: num('max-length', 'RRA_MAX_LENGTH', 128),
  hidden: num('hidden', 'RRA_HIDDEN', 128),
  layers: num('layers', 'RRA_LAYERS', 2),
  loss: opt('loss', 'RRA_LOSS', 'ranknet'),
  lr: num('lr', 'RRA_LR', 1e-3),
};
const source = opt('source', 'RRA_SOURCE', 'embeddings');
const thr = opt('threshold', 'RRA_THRESHOLD', '0.5');
const RRA: RraBertConfig = {
  lambda: num('lambda', 'RRA_LAMBDA', 1),
  combinedWeight: num('combined', 'RRA_COMBINED', 0),
  pooling: opt('pooling', 'RRA_POOLING', 'mean') as 'mean' | 'attention',
  selection: { source: source === 'embeddings' ? 'embeddings' : Number(source), threshold: thr === 'none' ? null : Number(thr), topK: num('sel-top-k', 'RRA_SEL_TOP_K', 0) },
};
const outFile = opt('out', 'RRA_OUT', path.join('bench', 'results', `rra-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
const dataDir = defaultDataDir();
const data = (...p: string[]) => path.join(dataDir, ...p);

interface EvalSet {
  name: string;
  lists: CandidateList[];
  qrels: Qrels;
}

const info = await initBackend();
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
console.log(`RRA-BERT ablation on ${info.backend} (${info.threads} threads); settings ${JSON.stringify(S)}; rra ${JSON.stringify(RRA)}`);

// --- training lists: the demo's teacher data ---------------------------------------------------
const { lists } = await loadTeacherLists({ dataDir: defaultDataDir() });
console.log(`training lists: ${lists.length} (Reason-to-Rank groups + DL19 LLM teacher rankings); ${S.steps} steps × ${S.listsPerBatch} lists × ≤${S.listSize} docs per model`);

// --- evaluation sets --------------------------------------------------------------------------
const evalSets: EvalSet[] = [];
{
  const qrels = await readQrels(data('trec-dl-2020-passage', 'qrels.txt'));
  evalSets.push({ name: 'dl20', lists: (await readBm25Json(data('trec-dl-2020-passage', 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
}
for (const name of ['trec-covid', 'nfcorpus', 'dbpedia-entity']) {
  const dir = data('beir-bm25-top100-subsets', name);
  if (!fs.existsSync(dir)) continue;
  const qrels = await readQrels(path.join(dir, 'qrels.txt'));
  evalSets.push({ name: `beir/${name}`, lists: (await readBm25Json(path.join(dir, 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
}
{
  // corpus.tsv is the reference text (data.json differs in whitespace/escaping for some passages).
  const corpus = await readCorpusTsv(data('noveleval-2306', 'corpus.tsv'));
  const nl = (await readBm25Json(data('noveleval-2306', 'data.json'))).map((c) => ({ ...c, hits: c.hits.map((h) => ({ ...h, text: corpus.get(h.docid) ?? h.text })) }));
  evalSets.push({ name: 'noveleval', lists: nl, qrels: await readQrels(data('noveleval-2306', 'qrels.txt')) });
}
const pairsOf = (e: EvalSet) => e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((h) => [c.query, h.text] as [string, string]));
console.log(`evaluation: ${evalSets.map((e) => `${e.name} ${e.lists.length} q`).join(', ')}; top ${S.evalTop} BM25 candidates reranked`);

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

type SystemName = 'bm25' | 'cross-encoder' | 'rra [CLS], TCL dropped' | 'rra [CLS] via TCL pass' | 'rra s + t (TCL used)' | 'rra t (TCL alone)';
// system → set → per-seed per-query nDCG@10 / @5
const perQ: Record<string, Record<string, { p10: number[][]; p5: number[][] }>> = {};
const record = (sys: SystemName, e: EvalSet, scores: number[]) => {
  const r = ndcg(e, scores);
  ((perQ[sys] ??= {})[e.name] ??= { p10: [], p5: [] }).p10.push(r.perQuery10);
  perQ[sys][e.name].p5.push(r.perQuery5);
};
// BM25 = the candidate files' order (the dbpedia-entity subset's `score` field holds the rank, 1, 2, …).
for (const e of evalSets) record('bm25', e, e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((_, i) => -i)));

const model = { hidden_size: S.hidden, num_hidden_layers: S.layers, num_attention_heads: Math.max(1, S.hidden / 64), intermediate_size: 4 * S.hidden, max_position_embeddings: 512 };
const tokenizer = data(DEMO_DEFAULTS.tokenizer);
const trainerCfg = (seed: number, onLog?: (r: Record<string, number | string>) => void) => ({
  loss: S.loss,
  listSize: S.listSize,
  listsPerBatch: S.listsPerBatch,
  maxSteps: S.steps,
  epochs: 100,
  lr: S.lr,
  warmupRatio: 0.1,
  seed,
  progress: false,
  onLog,
});
const timing: Array<{ seed: number; pairs: number; plainSeconds: number; tclSeconds: number; maxClsDiff: number }> = [];
const training: Array<{ seed: number; system: string; seconds: number; firstLoss: number; lastLoss: number; lastComponents?: Record<string, number> }> = [];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const lossSummary = (losses: number[]) => {
  const k = Math.max(1, Math.floor(losses.length / 10));
  return { firstLoss: mean(losses.slice(0, k)), lastLoss: mean(losses.slice(-k)) };
};

for (let i = 0; i < S.seeds; i++) {
  const seed = 1000 + i;
  // Plain cross-encoder.
  const ce = new CrossEncoder(model, { tokenizer, maxLength: S.maxLength, seed });
  const trCe = await new Trainer(ce, trainerCfg(seed)).train(lists);
  training.push({ seed, system: 'cross-encoder', seconds: trCe.seconds, ...lossSummary(trCe.losses) });
  for (const e of evalSets) record('cross-encoder', e, await ce.score(pairsOf(e), { batchSize: 64 }));
  ce.dispose();
  console.log(`[${elapsed()}] seed ${seed}: cross-encoder trained (${trCe.steps} steps, ${trCe.seconds.toFixed(0)} s) and evaluated`);

  // RRA-BERT: same encoder initialisation (same seed), same lists and batch order (same trainer seed).
  const rra = new RraBert(model, { tokenizer, maxLength: S.maxLength, seed, rra: RRA });
  const comps: Array<Record<string, number | string>> = [];
  const trR = await new Trainer(rra, trainerCfg(seed, (r) => comps.push(r))).train(lists);
  const tail = comps.slice(-Math.max(1, Math.floor(comps.length / 10)));
  const lastComponents = Object.fromEntries(['rank_s', 'rank_t', 'rank_st', 'selected'].filter((k) => typeof tail[0]?.[k] === 'number').map((k) => [k, mean(tail.map((r) => Number(r[k])))]));
  training.push({ seed, system: 'rra-bert', seconds: trR.seconds, ...lossSummary(trR.losses), lastComponents });
  let plainSeconds = 0;
  let tclSeconds = 0;
  let pairsTimed = 0;
  let maxClsDiff = 0;
  for (const e of evalSets) {
    const pairs = pairsOf(e);
    let t = Date.now();
    const plain = await rra.score(pairs, { batchSize: 64 });
    plainSeconds += (Date.now() - t) / 1000;
    t = Date.now();
    const both = await rra.scoreWithTcl(pairs, { batchSize: 64 });
    tclSeconds += (Date.now() - t) / 1000;
    pairsTimed += pairs.length;
    // Same pairs, but score() sorts by length before batching: compare values, not batches.
    plain.forEach((v, j) => (maxClsDiff = Math.max(maxClsDiff, Math.abs(v - both.s[j]))));
    record('rra [CLS], TCL dropped', e, plain);
    record('rra [CLS] via TCL pass', e, both.s);
    record('rra s + t (TCL used)', e, both.s.map((v, j) => v + both.t[j]));
    record('rra t (TCL alone)', e, both.t);
  }
  timing.push({ seed, pairs: pairsTimed, plainSeconds, tclSeconds, maxClsDiff });
  rra.dispose();
  console.log(`[${elapsed()}] seed ${seed}: RRA-BERT trained (${trR.steps} steps, ${trR.seconds.toFixed(0)} s) and evaluated; components ${JSON.stringify(lastComponents)}`);
}

// --- report -----------------------------------------------------------------------------------
const avgSeeds = (rows: number[][]) => rows[0].map((_, q) => mean(rows.map((r) => r[q])));
const systems = Object.keys(perQ) as SystemName[];
const table: Record<string, Record<string, { ndcg5: number; ndcg10: number; ndcg10PerSeed: number[] }>> = {};
for (const sys of systems) {
  table[sys] = {};
  for (const e of evalSets) {
    const d = perQ[sys][e.name];
    table[sys][e.name] = { ndcg5: mean(avgSeeds(d.p5)), ndcg10: mean(avgSeeds(d.p10)), ndcg10PerSeed: d.p10.map(mean) };
  }
}
const beirSets = evalSets.filter((e) => e.name.startsWith('beir/')).map((e) => e.name);
const groups: Record<string, string[]> = { ...Object.fromEntries(evalSets.map((e) => [e.name, [e.name]])), 'beir (all queries)': beirSets, 'all queries': evalSets.map((e) => e.name) };
const tests: Record<string, { queries: number; delta10: number; tTestP: number; randomizationP: number }> = {};
const pooled = (sys: SystemName, names: string[]) => names.flatMap((n) => avgSeeds(perQ[sys][n].p10));
for (const [g, names] of Object.entries(groups)) {
  const a = pooled('rra [CLS], TCL dropped', names);
  const b = pooled('cross-encoder', names);
  tests[g] = { queries: a.length, delta10: mean(a) - mean(b), tTestP: pairedTTest(a, b).p, randomizationP: randomizationTest(a, b, { trials: 10000, seed: 7 }).p };
}
const plainT = timing.reduce((s, t) => s + t.plainSeconds, 0);
const tclT = timing.reduce((s, t) => s + t.tclSeconds, 0);
const result = {
  settings: { ...S, rra: RRA, trainingLists: lists.length, backend: info.backend, threads: info.threads },
  table,
  significance: { comparison: 'RRA-BERT [CLS] (TCL dropped) vs plain cross-encoder, per-query nDCG@10 averaged over seeds', tests },
  inference: {
    pairsPerSeed: timing[0]?.pairs,
    plainPairsPerSecond: (timing.length * (timing[0]?.pairs ?? 0)) / plainT,
    withTclPairsPerSecond: (timing.length * (timing[0]?.pairs ?? 0)) / tclT,
    timeRatioWithTclOverPlain: tclT / plainT,
    maxAbsClsScoreDiffWithVsWithoutTcl: Math.max(...timing.map((t) => t.maxClsDiff)),
    perSeed: timing,
  },
  training,
  totalSeconds: (Date.now() - t0) / 1000,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

const cols = evalSets.map((e) => e.name);
console.log(`\nnDCG@5 / nDCG@10, mean over ${S.seeds} seed(s), top-${S.evalTop} BM25 candidates reranked`);
console.log(`${'system'.padEnd(26)}${cols.map((c) => c.padStart(22)).join('')}`);
for (const sys of systems) console.log(`${sys.padEnd(26)}${cols.map((c) => `${table[sys][c].ndcg5.toFixed(4)} / ${table[sys][c].ndcg10.toFixed(4)}`.padStart(22)).join('')}`);
console.log(`\nRRA-BERT vs cross-encoder (nDCG@10, paired over queries):`);
for (const [g, t] of Object.entries(tests)) {
  console.log(`  ${g.padEnd(20)} n=${String(t.queries).padStart(3)}  Δ ${t.delta10 >= 0 ? '+' : ''}${t.delta10.toFixed(4)}  t-test p ${t.tTestP.toPrecision(3)}  randomization p ${t.randomizationP.toPrecision(3)}`);
}
console.log(
  `\ninference: [CLS] only ${result.inference.plainPairsPerSecond.toFixed(0)} pairs/s; with selection + TCL ${result.inference.withTclPairsPerSecond.toFixed(0)} pairs/s (×${result.inference.timeRatioWithTclOverPlain.toFixed(2)} time); max |Δ [CLS] score| with vs without TCL ${result.inference.maxAbsClsScoreDiffWithVsWithoutTcl.toExponential(2)}`,
);
console.log(`results: ${outFile} (${elapsed()})`);
