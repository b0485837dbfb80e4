// `npm run bench:rra-gpt`: the RRA-GPT ablation. Three decoder rankers are trained from the same
// initial weights, on the same Reason-to-Rank teacher lists, in the same batch order, for the same
// number of optimiser steps (equal budget), for several seeds:
//   rank            L_rank only (the ranking layer on the last prompt token)
//   rank+cls        L_rank + α·CE(answer token "yes"/"no")
//   rank+cls+reason L_rank + α·CE(answer) + β·CE(the teacher's reason for the passage)
// Each reranks the BM25 top-k of DL20 and the BEIR subsets. Reported: nDCG@10 (mean over seeds),
// paired t-tests and randomization tests over queries (per-query nDCG@10 averaged over seeds) of each
// variant against `rank`, training time and the last loss components.
//
// The Reason-to-Rank groups rank 5 passages with no "missing" documents, so the answer label is
// "relevant" for the teacher's top `--relevant-top` (default 2) of each group, "not relevant" for the rest
// (our choice; with RRADistill-style labels, hard negatives would be the "not relevant" ones).
//
// Sizes by flag or environment variable (flag wins):
//   --seeds N        RRA_GPT_SEEDS       seeds (default 3)
//   --steps N        RRA_GPT_STEPS       optimiser steps per model (default 100)
//   --lists N        RRA_GPT_LISTS       lists (groups of 5) per step (default 4)
//   --eval-top N     RRA_GPT_EVAL_TOP    BM25 candidates reranked per query (default 20)
//   --prompt-length N RRA_GPT_PROMPT     prompt tokens (default 128)   --reason-tokens N RRA_GPT_REASON (default 16)
//   --hidden N --layers N --heads N --kv-heads N   decoder shape (default 96, 2, 4, 2)
//   --alpha X --beta X (default 1, 1)  --relevant-top N (default 2)  --loss NAME (default ranknet)
//   --lr X (default 2e-3)  --train-records N (default all)  --sets dl20,beir (default both)
//   --out FILE (default bench/results/rra-gpt-<time>.json)
// Data: $RANKDISTILL_DATA (default ../shared/data).
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { benchOptions } from './options.js';
import { readBm25Json, readQrels, type CandidateList, type Qrels } from '../src/data/index.js';
import { evaluateRun, pairedTTest, randomizationTest } from '../src/evaluation/index.js';
import { RraGpt, readRraGptData } from '../src/models/rra-gpt/index.js';
import type { LlamaConfig } from '../src/models/llama/config.js';
import { TextTokenizer } from '../src/tokenization/tokenizer.js';
import { Trainer } from '../src/training/trainer.js';

const { opt, num } = benchOptions(['seeds', 'steps', 'lists', 'eval-top', 'prompt-length', 'reason-tokens', 'hidden', 'layers', 'heads', 'kv-heads', 'alpha', 'beta', 'relevant-top', 'loss', 'lr', 'train-records', 'sets', 'out']);

const S = {
  seeds: num('seeds', 'RRA_GPT_SEEDS', 3),
  steps: num('steps', 'RRA_GPT_STEPS', 100),
  listsPerBatch: num('lists', 'RRA_GPT_LISTS', 4),
  evalTop: num('eval-top', 'RRA_GPT_EVAL_TOP', 20),
  promptLength: num('prompt-length', 'RRA_GPT_PROMPT', 128),
  reasonTokens: num('reason-tokens', 'RRA_GPT_REASON', 16),
  hidden: num('hidden', 'RRA_GPT_HIDDEN', 96),
  layers: num('layers', 'RRA_GPT_LAYERS', 2),
  heads: num('heads', 'RRA_GPT_HEADS', 4),
  kvHeads: num('kv-heads', 'RRA_GPT_KV_HEADS', 2),
  alpha: num('alpha', 'RRA_GPT_ALPHA', 1),
  beta: num('beta', 'RRA_GPT_BETA', 1),
  relevantTop: num('relevant-top', 'RRA_GPT_RELEVANT_TOP', 2),
  loss: opt('loss', 'RRA_GPT_LOSS', 'ranknet'),
  lr: num('lr', 'RRA_GPT_LR', 2e-3),
  trainRecords: opt('train-records', 'RRA_GPT_TRAIN_RECORDS', 'all') === 'all' ? Infinity : num('train-records', 'RRA_GPT_TRAIN_RECORDS', 0),
  sets: opt('sets', 'RRA_GPT_SETS', 'dl20,beir').split(','),
};
const outFile = opt('out', 'RRA_GPT_OUT', path.join('bench', 'results', `rra-gpt-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join('..', 'shared', 'data'));
const data = (...p: string[]) => path.join(dataDir, ...p);

const info = await initBackend();
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
console.log(`RRA-GPT ablation on ${info.backend}; settings ${JSON.stringify(S)}`);

// --- training data: Reason-to-Rank GPT-3.5 MS MARCO train groups, with per-passage reasons ------
const trainDir = data('reason2rank-llm-listwise-teacher', 'gpt-3.5', 'msmarco-train');
const files = fs.readdirSync(trainDir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(trainDir, f));
const train = await readRraGptData(files, { limit: Number.isFinite(S.trainRecords) ? S.trainRecords : undefined });
console.log(
  `training lists: ${train.lists.length} groups of 5 (${train.bad.length} bad records skipped); reasons for ${train.coverage.withReason}/${train.coverage.passages} passages; ` +
    `${S.steps} steps × ${S.listsPerBatch} lists per model`,
);

// --- evaluation sets --------------------------------------------------------------------------
interface EvalSet {
  name: string;
  lists: CandidateList[];
  qrels: Qrels;
}
const evalSets: EvalSet[] = [];
if (S.sets.includes('dl20')) {
  const qrels = await readQrels(data('trec-dl-2020-passage', 'qrels.txt'));
  evalSets.push({ name: 'dl20', lists: (await readBm25Json(data('trec-dl-2020-passage', 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
}
if (S.sets.includes('beir')) {
  for (const name of ['trec-covid', 'nfcorpus', 'dbpedia-entity']) {
    const dir = data('beir-bm25-top100-subsets', name);
    if (!fs.existsSync(dir)) continue;
    const qrels = await readQrels(path.join(dir, 'qrels.txt'));
    evalSets.push({ name: `beir/${name}`, lists: (await readBm25Json(path.join(dir, 'bm25-top100.json'))).filter((c) => qrels.has(c.qid)), qrels });
  }
}
const pairsOf = (e: EvalSet) => e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((h) => [c.query, h.text] as [string, string]));
console.log(`evaluation: ${evalSets.map((e) => `${e.name} ${e.lists.length} q`).join(', ')}; top ${S.evalTop} BM25 candidates reranked`);

/** Per-query nDCG@10 of scores laid out like pairsOf(e); candidates below the top-k are not in the run. */
function ndcg10(e: EvalSet, scores: number[]): number[] {
  let k = 0;
  const run = new Map(e.lists.map((c) => [c.qid, c.hits.slice(0, S.evalTop).map((h, i) => ({ qid: c.qid, docid: h.docid, rank: i + 1, score: scores[k++], tag: 'bench' }))]));
  const r = evaluateRun(e.qrels, run, ['ndcg_cut_10']);
  return e.lists.map((c) => r.perQuery.get(c.qid)?.ndcg_cut_10 ?? 0);
}

const SYSTEMS = ['rank', 'rank+cls', 'rank+cls+reason'] as const;
type Sys = (typeof SYSTEMS)[number] | 'bm25';
const perQ: Partial<Record<Sys, Record<string, number[][]>>> = {};
const record = (sys: Sys, e: EvalSet, scores: number[]) => (((perQ[sys] ??= {})[e.name] ??= []).push(ndcg10(e, scores)));
for (const e of evalSets) record('bm25', e, e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((h) => h.score)));

const tokenizer = TextTokenizer.fromDir(data('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));
const config: Partial<LlamaConfig> = {
  vocab_size: tokenizer.vocabSize,
  hidden_size: S.hidden,
  intermediate_size: (8 * S.hidden) / 3 > 0 ? Math.round((8 * S.hidden) / 3 / 8) * 8 : 4 * S.hidden,
  num_hidden_layers: S.layers,
  num_attention_heads: S.heads,
  num_key_value_heads: S.kvHeads,
  max_position_embeddings: S.promptLength + S.reasonTokens + 16,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  initializer_range: 0.02,
  bos_token_id: tokenizer.tokenToId('[CLS]') ?? null,
  eos_token_id: tokenizer.tokenToId('[SEP]') ?? null,
  pad_token_id: tokenizer.padId,
};
const weights: Record<(typeof SYSTEMS)[number], { alpha: number; beta: number }> = {
  rank: { alpha: 0, beta: 0 },
  'rank+cls': { alpha: S.alpha, beta: 0 },
  'rank+cls+reason': { alpha: S.alpha, beta: S.beta },
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const training: Array<{ seed: number; system: string; steps: number; seconds: number; firstLoss: number; lastLoss: number; lastComponents: Record<string, number> }> = [];
const scoringSeconds: number[] = [];
let sampleExplanation: { query: string; doc: string; answer: string; reason: string } | null = null;

for (let i = 0; i < S.seeds; i++) {
  const seed = 1000 + i;
  for (const sys of SYSTEMS) {
    // Same seed → same initial weights (LlamaModel init is keyed by parameter name) and batch order.
    const model = new RraGpt(config, {
      tokenizer,
      seed,
      ...weights[sys],
      reasons: train.reasons,
      maxPromptLength: S.promptLength,
      maxReasonTokens: S.reasonTokens,
      isRelevant: (label) => label >= 1 / S.relevantTop - 1e-9,
    });
    const logs: Array<Record<string, number | string>> = [];
    const trainer = new Trainer(model, {
      loss: S.loss,
      listSize: 5,
      listsPerBatch: S.listsPerBatch,
      maxSteps: S.steps,
      epochs: 1000,
      lr: S.lr,
      warmupRatio: 0.1,
      seed,
      progress: false,
      onLog: (r) => logs.push(r),
    });
    const tr = await trainer.train(train.lists);
    trainer.dispose();
    const k = Math.max(1, Math.floor(tr.losses.length / 10));
    const tail = logs.filter((r) => r.type === 'train').slice(-k);
    const lastComponents = Object.fromEntries(['rank', 'cls', 'reason'].filter((c) => typeof tail[0]?.[c] === 'number').map((c) => [c, mean(tail.map((r) => Number(r[c])))]));
    training.push({ seed, system: sys, steps: tr.steps, seconds: tr.seconds, firstLoss: mean(tr.losses.slice(0, k)), lastLoss: mean(tr.losses.slice(-k)), lastComponents });
    const ts = Date.now();
    for (const e of evalSets) record(sys, e, await model.score(pairsOf(e), { batchSize: 64 }));
    scoringSeconds.push((Date.now() - ts) / 1000);
    if (sys === 'rank+cls+reason' && i === 0 && evalSets.length) {
      const c = evalSets[0].lists[0];
      const ex = await model.explain(c.query, c.hits[0].text, { maxNewTokens: S.reasonTokens });
      sampleExplanation = { query: c.query, doc: c.hits[0].text.slice(0, 200), answer: ex.answer, reason: ex.reason };
    }
    model.dispose();
    console.log(`[${elapsed()}] seed ${seed} ${sys}: ${tr.steps} steps in ${tr.seconds.toFixed(0)} s, components ${JSON.stringify(lastComponents)}`);
  }
}

// --- report -----------------------------------------------------------------------------------
const avgSeeds = (rows: number[][]) => rows[0].map((_, q) => mean(rows.map((r) => r[q])));
const names = evalSets.map((e) => e.name);
const beir = names.filter((n) => n.startsWith('beir/'));
const groups: Record<string, string[]> = { ...Object.fromEntries(names.map((n) => [n, [n]])) };
if (beir.length) groups['beir (all queries)'] = beir;
groups['all queries'] = names;
const pooled = (sys: Sys, sets: string[]) => sets.flatMap((n) => avgSeeds(perQ[sys]![n]));
const table: Record<string, Record<string, { ndcg10: number; perSeed: number[] }>> = {};
for (const sys of ['bm25', ...SYSTEMS] as Sys[]) {
  table[sys] = {};
  for (const [g, sets] of Object.entries(groups)) {
    table[sys][g] = { ndcg10: mean(pooled(sys, sets)), perSeed: perQ[sys]![sets[0]].map((_, s) => mean(sets.flatMap((n) => perQ[sys]![n][s] ?? perQ[sys]![n][0]))) };
  }
}
const tests: Record<string, Record<string, { queries: number; delta: number; tTestP: number; randomizationP: number }>> = {};
for (const sys of ['rank+cls', 'rank+cls+reason'] as const) {
  tests[`${sys} vs rank`] = {};
  for (const [g, sets] of Object.entries(groups)) {
    const a = pooled(sys, sets);
    const b = pooled('rank', sets);
    tests[`${sys} vs rank`][g] = { queries: a.length, delta: mean(a) - mean(b), tTestP: pairedTTest(a, b).p, randomizationP: randomizationTest(a, b, { trials: 10000, seed: 7 }).p };
  }
}
const result = {
  settings: { ...S, trainRecords: Number.isFinite(S.trainRecords) ? S.trainRecords : 'all', trainingLists: train.lists.length, backend: info.backend, model: config },
  table,
  significance: { comparison: 'per-query nDCG@10 averaged over seeds, paired over queries', tests },
  training,
  scoringSecondsPerModel: mean(scoringSeconds),
  sampleExplanation,
  totalSeconds: (Date.now() - t0) / 1000,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

const cols = Object.keys(groups);
console.log(`\nnDCG@10, mean over ${S.seeds} seed(s), top-${S.evalTop} BM25 candidates reranked (${S.steps} steps × ${S.listsPerBatch} lists each)`);
console.log(`${'system'.padEnd(18)}${cols.map((c) => c.padStart(20)).join('')}`);
for (const sys of Object.keys(table)) console.log(`${sys.padEnd(18)}${cols.map((c) => table[sys][c].ndcg10.toFixed(4).padStart(20)).join('')}`);
for (const [cmp, byGroup] of Object.entries(tests)) {
  console.log(`\n${cmp} (nDCG@10, paired over queries):`);
  for (const [g, t] of Object.entries(byGroup)) {
    console.log(`  ${g.padEnd(20)} n=${String(t.queries).padStart(3)}  Δ ${t.delta >= 0 ? '+' : ''}${t.delta.toFixed(4)}  t-test p ${t.tTestP.toPrecision(3)}  randomization p ${t.randomizationP.toPrecision(3)}`);
  }
}
if (sampleExplanation) console.log(`\nexplain(): ${JSON.stringify(sampleExplanation)}`);
console.log(`results: ${outFile} (${elapsed()})`);
