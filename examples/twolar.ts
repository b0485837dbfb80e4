// The TWOLAR recipe (Baldelli et al., ECIR 2024): distil an LLM's list-wise ranking into a T5 re-ranker
// scored from one decoder step as z(▁true) − z(▁false) on `Query: q Document: d Relevant:`.
//
// Full settings (the paper's; `--full`):
//   student        flan-t5 (base/large/xl) checkpoint (`--init DIR`, HF format), TWOLAR head
//   lists          30 documents per query, in the LLM teacher's order; targets 1/(i+1) for position i
//   loss           RankNet over all preferred pairs of a list
//   optimiser      AdamW, lr 5e-5, weight decay 0.01, linear decay, gradient clipping at global norm 1.0
//   batching       1 list (30 pairs) per micro-batch, gradient accumulation 32 lists per step
//   input length   500 tokens (the document is truncated first; `Relevant:` and </s> are kept)
//   epochs         1
//   queries        in the paper: MS MARCO queries plus query augmentation (sentence cropping and
//                  docT5query — see DocT5QueryGenerator in src/models/t5/generation.ts), candidates from
//                  several retrievers, ranked by gpt-3.5-turbo with RankGPT's sliding window.
//
// Scaled down (the default, runs on a 2-core CPU in a few minutes): no pretrained weights exist on this
// machine, so the student is a tiny T5 v1.1 (gated-GELU, d_model 64, 2+2 layers, real T5 vocabulary)
// trained from scratch; its learning rate is 1e-3 (5e-5 is for fine-tuning a pretrained flan-T5, and
// moves a random model too little in a few dozen steps; `--init` switches back to 5e-5). Teacher: the
// gpt-4o-mini setwise ranking of the DL19 BM25 top-100 (`llm-rerank-runs-dl19`), top 30 per query in
// teacher order; 10 DL19 queries are held out and their BM25 top-30 reranked for nDCG@10.
// Input length 128, 2 lists per micro-batch, accumulation 4, 3 epochs.
//
//   npx tsx examples/twolar.ts [--full] [--init DIR] [--epochs N] [--lr X] [--out DIR]
import fs from 'node:fs';
import path from 'node:path';
import { initBackend, readBm25Json, readQrels, readTrecRun, evaluateReranking, T5Ranker, listsFromTeacherRun, reciprocalRank, type TrainingList, Trainer, type TrainerConfig } from 'rankdistill';
import { SeededRandom } from 'rankdistill/utils';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

const full = flag('full');
const init = opt('init');
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join(process.cwd(), '..', 'shared', 'data'));
const seed = 13;
const S = {
  listSize: 30,
  maxLength: full ? 500 : 128,
  listsPerBatch: full ? 1 : 2,
  accumulationSteps: full ? 32 : 4,
  epochs: Number(opt('epochs') ?? (full ? 1 : 3)),
  lr: Number(opt('lr') ?? (full || init ? 5e-5 : 1e-3)),
  devQueries: 10,
  rerankDepth: full ? 100 : 30,
};

const info = await initBackend();
console.log(`TWOLAR recipe (${full ? 'full' : 'scaled down'}) on ${info.backend}; settings ${JSON.stringify(S)}`);

// --- teacher lists: LLM order, targets 1/(i+1) -------------------------------------------------------
const dl19 = await readBm25Json(path.join(dataDir, 'trec-dl-2019-passage/bm25-top100.json'));
const qrels = await readQrels(path.join(dataDir, 'trec-dl-2019-passage/qrels.txt'));
const teacher = await readTrecRun(path.join(dataDir, 'llm-rerank-runs-dl19/run.setwise.heapsort.openai_4o_mini.n3.txt'));
const devQids = new Set(new SeededRandom(seed).shuffle(dl19.map((c) => c.qid)).slice(0, S.devQueries));
const texts = new Map<string, string>();
const queries = new Map<string, string>();
for (const c of dl19) {
  queries.set(c.qid, c.query);
  for (const h of c.hits) texts.set(h.docid, h.text);
}
for (const q of devQids) teacher.delete(q);
const lists: TrainingList[] = listsFromTeacherRun(teacher, queries, texts, { depth: S.listSize, transform: reciprocalRank });
console.log(`training lists: ${lists.length} DL19 queries × ${S.listSize} documents in gpt-4o-mini order; dev: ${devQids.size} held-out queries`);

// --- student ------------------------------------------------------------------------------------------
const tokenizer = path.join(dataDir, 't5-small-spiece');
const ranker = init
  ? await T5Ranker.fromPretrained(init, { head: 'twolar', maxLength: S.maxLength, tokenizer: fs.existsSync(path.join(init, 'tokenizer.json')) ? undefined : tokenizer })
  : T5Ranker.create(
      { vocab_size: 32128, d_model: 64, d_kv: 16, d_ff: 128, num_layers: 2, num_decoder_layers: 2, num_heads: 4, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, dropout_rate: 0.1 },
      { head: 'twolar', tokenizer, maxLength: S.maxLength, seed },
    );
console.log(`student: T5 ${ranker.model.config.feed_forward_proj} d_model ${ranker.model.config.d_model}, ${(ranker.model.params.size / 1e6).toFixed(2)}M parameters${init ? ` from ${init}` : ', from scratch'}`);

/** Share of teacher-preferred pairs the student orders the same way, over the training lists. */
async function pairAgreement(): Promise<number> {
  let ok = 0;
  let n = 0;
  for (const l of lists) {
    const s = await ranker.score(l.docs.map((d) => [l.query, d] as [string, string]), { batchSize: 64 });
    for (let i = 0; i < s.length; i++) for (let j = i + 1; j < s.length; j++) {
      n++;
      if (s[i] > s[j]) ok++;
    }
  }
  return ok / n;
}

/** nDCG@10 of the held-out queries: BM25 order, and the student's reranking of the BM25 top-k. */
async function devNdcg(): Promise<{ student: number; bm25: number }> {
  const dev = dl19.filter((x) => devQids.has(x.qid));
  const r = await evaluateReranking((pairs) => ranker.score(pairs, { batchSize: 64 }), { lists: dev, qrels }, { topK: S.rerankDepth, baseline: 'first-stage' });
  return { student: r.aggregate.ndcg_cut_10, bm25: r.baseline!.aggregate.ndcg_cut_10 };
}

const agreeBefore = await pairAgreement();
const devBefore = await devNdcg();
console.log(`before: teacher-pair agreement on training lists ${agreeBefore.toFixed(4)}; dev nDCG@10 ${devBefore.student.toFixed(4)} (BM25 top-${S.rerankDepth}: ${devBefore.bm25.toFixed(4)})`);

// --- train ----------------------------------------------------------------------------------------------
const trainerConfig: TrainerConfig = {
  loss: 'ranknet',
  listSize: S.listSize,
  sampling: 'top',
  listsPerBatch: S.listsPerBatch,
  accumulationSteps: S.accumulationSteps,
  epochs: S.epochs,
  lr: S.lr,
  weightDecay: 0.01,
  schedule: 'linear',
  maxGradNorm: 1.0,
  seed,
  outputDir: opt('out'),
  progress: true,
};
const trainer = new Trainer(ranker, trainerConfig);
const res = await trainer.train(lists);
trainer.dispose();

const k = Math.max(1, Math.floor(res.losses.length / 5));
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const agreeAfter = await pairAgreement();
const devAfter = await devNdcg();
console.log(`trained ${res.steps} optimiser steps (${lists.length * S.epochs} lists) in ${res.seconds.toFixed(0)} s`);
console.log(`RankNet loss: ${avg(res.losses.slice(0, k)).toFixed(4)} → ${avg(res.losses.slice(-k)).toFixed(4)} (mean of first/last ${k} steps)`);
console.log(`after: teacher-pair agreement on training lists ${agreeAfter.toFixed(4)} (was ${agreeBefore.toFixed(4)}); dev nDCG@10 ${devAfter.student.toFixed(4)} (was ${devBefore.student.toFixed(4)}; BM25 ${devAfter.bm25.toFixed(4)})`);
if (opt('out')) console.log(`model saved to ${path.join(opt('out')!, 'final')}`);
ranker.dispose();
