import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import { beirDocumentText, readBeirCorpus, readBeirQueries, readBm25Json, readCorpusTsv, readQueriesTsv, writeTrecRun, type RunEntry } from '../../data/index.js';
import { BiEncoder } from '../../models/bi-encoder/index.js';
import { Bm25Index } from '../../retrieval/bm25.js';
import { DenseIndex } from '../../retrieval/dense.js';
import { interpolateScores, reciprocalRankFusion, roundRobin, runOrder } from '../../retrieval/fusion.js';
import { InputError } from '../../utils/errors.js';
import { Progress } from '../../utils/progress.js';
import { intOption } from '../options.js';

export const usage = `usage: rankdistill retrieve (--dense MODEL | --bm25 | --dense MODEL --bm25) --corpus FILE --queries FILE --out FILE
                          [--k 100] [--index DIR] [--batch-size 32] [--chunk-size 1024]
                          [--fusion rrf|interpolation|round-robin] [--rrf-k 60] [--weight 0.5]
                          [--tag NAME] [--overwrite-index] [--quiet]

Retrieves the top k documents of a corpus for each query and writes a TREC run.

  --dense MODEL      a sentence-transformers bi-encoder folder (e.g. all-MiniLM-L6-v2): the corpus is
                     embedded into a dense index (--index DIR, default OUT.dense-index/) and searched
                     exactly by inner product (cosine for normalised models). The index is reused by later
                     runs with the same corpus and model; a killed build resumes where it stopped.
  --bm25             in-process BM25 (Anserini's k1 0.9, b 0.4, English analyzer) over the corpus
  both               the two runs fused: --fusion rrf (default; --rrf-k 60), interpolation (per-query
                     min-max normalised scores, --weight W for dense and 1 − W for BM25) or round-robin
  --corpus FILE      docid<TAB>text (.tsv), BEIR corpus.jsonl (title and text joined), or a BM25
                     candidate JSON (.json: its passages, each once)
  --queries FILE     qid<TAB>query (.tsv), BEIR queries.jsonl, or a BM25 candidate JSON (.json)
  --k K              documents per query (default 100)
  --batch-size N     texts per forward pass (default 32)
  --chunk-size N     documents embedded between two writes of the index (default 1024)
  --tag NAME         run tag (default: dense, bm25 or fused)
  --overwrite-index  replace an index of another corpus or model in --index
  --quiet            no progress lines`;

type Format = 'tsv' | 'jsonl' | 'json';

function formatOf(file: string, option: string): Format {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.tsv' || ext === '.txt') return 'tsv';
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.json') return 'json';
  throw new InputError(`cannot tell the format from the extension '${ext}' (expected .tsv, .jsonl or .json)`, { file, field: option });
}

/** The corpus as (id, text) in file order. */
export async function readCorpusFile(file: string): Promise<Array<{ id: string; text: string }>> {
  const fmt = formatOf(file, '--corpus');
  if (fmt === 'tsv') return [...(await readCorpusTsv(file))].map(([id, text]) => ({ id, text }));
  if (fmt === 'jsonl') return [...(await readBeirCorpus(file))].map(([id, d]) => ({ id, text: beirDocumentText(d) }));
  const seen = new Map<string, string>();
  for (const c of await readBm25Json(file)) for (const h of c.hits) if (!seen.has(h.docid)) seen.set(h.docid, h.text);
  return [...seen].map(([id, text]) => ({ id, text }));
}

/** The queries as qid → text, in file order. */
export async function readQueriesFile(file: string): Promise<Map<string, string>> {
  const fmt = formatOf(file, '--queries');
  if (fmt === 'tsv') return readQueriesTsv(file);
  if (fmt === 'jsonl') return readBeirQueries(file);
  return new Map((await readBm25Json(file)).map((c) => [c.qid, c.query]));
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dense: { type: 'string' },
      bm25: { type: 'boolean', default: false },
      corpus: { type: 'string' },
      queries: { type: 'string' },
      out: { type: 'string' },
      k: { type: 'string' },
      index: { type: 'string' },
      'batch-size': { type: 'string' },
      'chunk-size': { type: 'string' },
      fusion: { type: 'string' },
      'rrf-k': { type: 'string' },
      weight: { type: 'string' },
      tag: { type: 'string' },
      'overwrite-index': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.dense && !values.bm25) throw new InputError('give --dense MODEL, --bm25, or both (see --help)');
  if (!values.corpus || !values.queries || !values.out) throw new InputError('--corpus, --queries and --out are required (see --help)');
  const k = intOption(values.k, 'k', 1) ?? 100;
  const batchSize = intOption(values['batch-size'], 'batch-size', 1) ?? 32;
  const chunkSize = intOption(values['chunk-size'], 'chunk-size', 1) ?? 1024;
  const rrfK = intOption(values['rrf-k'], 'rrf-k', 0) ?? 60;
  const fusion = values.fusion ?? 'rrf';
  if (!['rrf', 'interpolation', 'round-robin'].includes(fusion)) throw new InputError(`--fusion must be rrf, interpolation or round-robin, got '${fusion}'`, { field: '--fusion' });
  const weight = values.weight === undefined ? 0.5 : Number(values.weight);
  if (!(values.weight === undefined || /^\s*[\d.eE+-]+\s*$/.test(values.weight)) || !(weight >= 0 && weight <= 1)) throw new InputError(`--weight must be a number in [0, 1], got '${values.weight}'`, { field: '--weight' });
  if (values.dense && values.dense.trim() && !fs.existsSync(values.dense)) {
    throw new InputError('model folder not found (give the folder of a sentence-transformers model)', { file: values.dense, field: '--dense' });
  }
  const say = (m: string) => !values.quiet && console.error(m);

  const docs = await readCorpusFile(values.corpus);
  if (!docs.length) throw new InputError('the corpus has no documents', { file: values.corpus });
  const queries = await readQueriesFile(values.queries);
  if (!queries.size) throw new InputError('no queries', { file: values.queries });
  const qids = [...queries.keys()];
  const texts = qids.map((q) => queries.get(q)!);
  say(`retrieve: ${docs.length} documents, ${queries.size} queries, top ${k}`);

  const runs: Array<{ name: string; hits: Array<Array<{ id: string; score: number }>> }> = [];
  if (values.dense) {
    const info = await initBackend();
    const model = await BiEncoder.fromPretrained(values.dense);
    try {
      const dir = values.index ?? `${values.out}.dense-index`;
      say(`dense: ${values.dense} (${model.pooling.join('+')} pooling, ${model.normalize ? 'normalised' : 'not normalised'}, max length ${model.maxSeqLength}) on ${info.backend}; index ${dir}`);
      const index = await DenseIndex.build(dir, docs, model, {
        batchSize,
        chunkSize,
        overwrite: values['overwrite-index'],
        progress: !values.quiet,
        modelInfo: { path: path.resolve(values.dense) },
      });
      runs.push({ name: 'dense', hits: await index.search(texts, model, k, { batchSize }) });
    } finally {
      model.dispose();
    }
  }
  if (values.bm25) {
    const progress = new Progress({ total: docs.length + qids.length, label: 'bm25', unit: 'texts', silent: values.quiet });
    const bm25 = new Bm25Index();
    for (const d of docs) {
      bm25.add(d.id, d.text);
      progress.tick();
    }
    const hits = texts.map((q) => {
      progress.tick();
      return bm25.search(q, k).map((h) => ({ id: h.docid, score: h.score }));
    });
    progress.finish();
    runs.push({ name: 'bm25', hits });
  }

  const entries: RunEntry[] = [];
  const tag = values.tag ?? (runs.length > 1 ? 'fused' : runs[0].name);
  qids.forEach((qid, qi) => {
    let ranked: Array<{ id: string; score: number }>;
    if (runs.length === 1) ranked = runs[0].hits[qi];
    else {
      const lists = runs.map((r) => r.hits[qi].map((h, i) => ({ docid: h.id, score: h.score, rank: i + 1 })));
      if (fusion === 'rrf') ranked = reciprocalRankFusion(lists.map(runOrder), { k: rrfK, depth: k }).map((h) => ({ id: h.docid, score: h.score }));
      else if (fusion === 'interpolation') ranked = interpolateScores(lists, [weight, 1 - weight], { depth: k }).map((h) => ({ id: h.docid, score: h.score }));
      // Round robin has no score: a descending one keeps the order for trec_eval.
      else ranked = roundRobin(lists.map(runOrder), k).map((id, i) => ({ id, score: k - i }));
    }
    ranked.forEach((h, i) => entries.push({ qid, docid: h.id, rank: i + 1, score: h.score, tag }));
  });
  const tmp = `${values.out}.tmp-${process.pid}`;
  await writeTrecRun(tmp, entries);
  fs.renameSync(tmp, values.out);
  say(`wrote ${values.out}: ${qids.length} queries, ${entries.length} lines (${runs.map((r) => r.name).join(' ⊕ ')}${runs.length > 1 ? `, ${fusion}` : ''})`);
  return 0;
}
