// RRA-BERT (RRADistill): train a small BERT cross-encoder on the LLM teacher data with Token
// Selection and the Term Control Layer, rerank DL20's BM25 candidates with the [CLS] head alone
// (the TCL is dropped at inference), show what Token Selection picks for one pair, and save the
// model as a plain HF cross-encoder (+ the TCL in a side file).
// Run: npx tsx examples/rra-bert.ts   (RRA_STEPS, RRA_EVAL_TOP, RRA_OUT to change the sizes/output)
// Data: $RANKDISTILL_DATA (default ../shared/data).
import path from 'node:path';
import { initBackend, Trainer, readBm25Json, readQrels, RraBert } from 'rankdistill';
import { candidatePairs, candidateScores, measureScores } from 'rankdistill/evaluation';
import { DEMO_DEFAULTS, defaultDataDir, loadTeacherLists } from 'rankdistill/recipes';

const steps = Number(process.env.RRA_STEPS ?? 200);
const evalTop = Number(process.env.RRA_EVAL_TOP ?? 50);
const outDir = process.env.RRA_OUT ?? 'runs/rra-bert';
const data = (...p: string[]) => path.join(defaultDataDir(), ...p);

const info = await initBackend();
console.log(`backend ${info.backend} (${info.threads} threads)`);

// Teacher lists: Reason-to-Rank groups (GPT-3.5 permutations of 5 passages) and an LLM's ranking of
// the DL19 BM25 top-100 (its top 30 as one list per query).
const { lists } = await loadTeacherLists({ dataDir: defaultDataDir() });
console.log(`${lists.length} training lists`);

const model = new RraBert(DEMO_DEFAULTS.model, {
  tokenizer: data(DEMO_DEFAULTS.tokenizer),
  maxLength: 128,
  seed: 1,
  // Selection on the input word-piece embeddings: exact matches plus tokens with cosine ≥ 0.5;
  // the TCL mean-pools them; loss = RankNet(s) + 1.0 · RankNet(t).
  rra: { selection: { source: 'embeddings', threshold: 0.5 }, pooling: 'mean', lambda: 1 },
});
const trainer = new Trainer(model, {
  loss: 'ranknet',
  listSize: 8,
  listsPerBatch: 8,
  maxSteps: steps,
  epochs: 100,
  lr: 5e-4,
  warmupRatio: 0.1,
  logEvery: 20,
  onLog: (r) => {
    if (typeof r.rank_s === 'number') console.log(`  step ${r.step}: loss ${Number(r.loss).toFixed(4)} = rank_s ${r.rank_s.toFixed(4)} + λ·rank_t ${Number(r.rank_t).toFixed(4)}; ${Number(r.selected).toFixed(1)} tokens selected per document`);
  },
});
const tr = await trainer.train(lists);
trainer.dispose();
console.log(`trained ${tr.steps} steps in ${tr.seconds.toFixed(0)} s`);

// Rerank DL20 with and without the TCL: the [CLS] scores are the same numbers either way.
const qrels = await readQrels(data('trec-dl-2020-passage', 'qrels.txt'));
const dl20 = (await readBm25Json(data('trec-dl-2020-passage', 'bm25-top100.json'))).filter((c) => qrels.has(c.qid));
const pairs = candidatePairs(dl20, evalTop);
const nd = (scores: number[] | ((h: unknown, i: number) => number)) => measureScores(qrels, candidateScores(dl20, scores, evalTop), ['ndcg_cut_10']).aggregate.ndcg_cut_10.toFixed(4);
let t = Date.now();
const plain = await model.score(pairs, { batchSize: 64 });
const plainS = (Date.now() - t) / 1000;
t = Date.now();
const withTcl = await model.scoreWithTcl(pairs, { batchSize: 64 });
const tclS = (Date.now() - t) / 1000;
const maxDiff = Math.max(...plain.map((v, i) => Math.abs(v - withTcl.s[i])));
console.log(`DL20 nDCG@10 (top ${evalTop}): BM25 ${nd((_h, i) => -i)}, RRA-BERT [CLS] ${nd(plain)} (${plainS.toFixed(1)} s), ` +
  `[CLS] computed alongside the TCL ${nd(withTcl.s)} (${tclS.toFixed(1)} s; max |Δ score| ${maxDiff.toExponential(1)}), s + t ${nd(plain.map((v, i) => v + withTcl.t[i]))}`);

// What Token Selection picked for the first DL20 query and its top BM25 passage.
const rows = await model.inspect(dl20[0].query, dl20[0].hits[0].text);
console.log(`\nquery: ${dl20[0].query}\nselected document tokens: ${rows.filter((r) => r.selected).map((r) => `${r.token}←${r.queryToken} (${r.reason}, ${r.similarity!.toFixed(2)})`).join(', ') || '(none)'}`);

await model.save(outDir);
console.log(`\nsaved to ${outDir}: config.json + model.safetensors load as BertForSequenceClassification (HF) or CrossEncoder; rra_tcl.safetensors holds the TCL`);
model.dispose();
