import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../backend/index.js';
import {
  beirDocumentText,
  candidatesToRun,
  readBeirCorpus,
  readBeirQueries,
  readBm25Json,
  readCorpusTsv,
  readQueriesTsv,
  readTrecRun,
  type RunEntry,
} from '../../data/index.js';
import { resolveRanker, type ResolvedRanker } from '../../models/registry.js';
import { rerankRun, topKOf } from '../../reranking/index.js';
import { InputError } from '../../utils/errors.js';
import { checkResume, fileSha256, makeManifest, manifestFileFor } from '../manifest.js';
import { intOption } from '../options.js';

export const usage = `usage: rankdistill rerank --model DIR --out FILE [--run FILE]
                         (--queries FILE --corpus FILE | --bm25-json FILE | --beir-queries FILE --beir-corpus FILE)
                         [--top-k 100] [--batch-size 32] [--max-length N] [--tokenizer DIR|FILE]
                         [--tag NAME] [--force] [--quiet]

Reranks the top-k documents of each query of a TREC run (ordered as trec_eval orders them) with a
ranker and writes a TREC run. --model is a folder (or Hub id) of any ranker rankdistill saves or loads,
recognised from its config.json and side files: a BERT cross-encoder, RRA-BERT, a T5 ranker (monoT5,
RankT5, TWOLAR), a Llama-family decoder / RRA-GPT (or a .gguf file), a sentence-transformers
bi-encoder; --family names one instead. Texts come from queries/corpus TSV files (id<TAB>text), a BM25 candidate JSON
(RankGPT/rank_llm format: then --run is optional and defaults to the JSON's own ranking), or BEIR
corpus.jsonl/queries.jsonl (title and text joined).

The output is written one query at a time. If --out already holds queries from an earlier, killed
rerank of the same run, they are kept and only the remaining queries are scored (a query cut off
mid-write is redone). OUT.manifest.json records what produced the output (model weights hash, input
run hash, top-k, max length, tag): a restart with other settings is refused, naming each difference;
--force (or --overwrite) sets the old output aside (OUT.replaced-TIME) and starts a new one.

  --family NAME      cross-encoder | rra-bert | t5 | rra-gpt | bi-encoder (default: recognised)
  --top-k K          documents reranked per query (default 100)
  --batch-size N     pairs per forward pass (default 32)
  --max-length N     maximum input length in tokens (a pair; a text for a bi-encoder, a prompt for a
                     decoder; default: the model's, at most 512)
  --tokenizer PATH   tokenizer when the model directory has none
  --tag NAME         run tag in the output (default rankdistill)
  --quiet            no progress line

exit status: 0 done; 2 bad input (arguments, files, a document without text, an output made with
other settings); 1 an unexpected error. Queries written before an error are kept for the resume.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      family: { type: 'string' },
      run: { type: 'string' },
      queries: { type: 'string' },
      corpus: { type: 'string' },
      'bm25-json': { type: 'string' },
      'beir-queries': { type: 'string' },
      'beir-corpus': { type: 'string' },
      'top-k': { type: 'string' },
      'batch-size': { type: 'string' },
      'max-length': { type: 'string' },
      tokenizer: { type: 'string' },
      out: { type: 'string' },
      tag: { type: 'string' },
      overwrite: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.model || !values.out) throw new InputError('--model and --out are required (see --help)');
  const sources = [values.queries || values.corpus ? 'tsv' : null, values['bm25-json'] ? 'json' : null, values['beir-queries'] || values['beir-corpus'] ? 'beir' : null].filter(Boolean);
  if (sources.length !== 1) throw new InputError('give the texts one way: --queries and --corpus, or --bm25-json, or --beir-queries and --beir-corpus');
  if (sources[0] === 'tsv' && !(values.queries && values.corpus)) throw new InputError('--queries and --corpus go together');
  if (sources[0] === 'beir' && !(values['beir-queries'] && values['beir-corpus'])) throw new InputError('--beir-queries and --beir-corpus go together');
  if (!values.run && !values['bm25-json']) throw new InputError('--run is required unless --bm25-json gives the candidates');
  const topK = intOption(values['top-k'], 'top-k', 1) ?? 100;
  const batchSize = intOption(values['batch-size'], 'batch-size', 1) ?? 32;
  const say = (m: string) => !values.quiet && console.error(m);

  // --- the run and the texts ------------------------------------------------------------------
  let run: Map<string, RunEntry[]>;
  let queries: Map<string, string>;
  const docText = new Map<string, string>();
  if (values['bm25-json']) {
    const lists = await readBm25Json(values['bm25-json']);
    run = values.run ? await readTrecRun(values.run) : candidatesToRun(lists);
    queries = new Map(lists.map((c) => [c.qid, c.query]));
    for (const c of lists) for (const h of c.hits) docText.set(`${c.qid}\u0000${h.docid}`, h.text);
  } else {
    run = await readTrecRun(values.run!);
    // Only the documents to be scored are kept, so a full collection can be given.
    const needed = new Set<string>();
    for (const es of run.values()) for (const e of topKOf(es, topK)) needed.add(e.docid);
    if (values.queries) {
      queries = await readQueriesTsv(values.queries);
      for (const [id, t] of await readCorpusTsv(values.corpus!, { only: needed })) docText.set(id, t);
    } else {
      queries = await readBeirQueries(values['beir-queries']!);
      for (const [id, d] of await readBeirCorpus(values['beir-corpus']!)) if (needed.has(id)) docText.set(id, beirDocumentText(d));
    }
  }
  const getDoc = (docid: string, qid: string) => docText.get(`${qid}\u0000${docid}`) ?? docText.get(docid);

  // --- the model ------------------------------------------------------------------------------
  const info = await initBackend();
  const maxLength = intOption(values['max-length'], 'max-length', 1);
  const loadOpts = { tokenizer: values.tokenizer, maxLength, family: values.family };
  const source = await resolveRanker(values.model, loadOpts);
  const model = await source.family.load(values.model, loadOpts);
  let parameters = 0;
  for (const v of model.trainableVariables().values()) parameters += v.size;
  const modelMaxLength = source.family.maxLength(model);
  say(`rerank: ${values.model} (${source.family.name}, ${(parameters / 1e6).toFixed(2)}M parameters, max length ${modelMaxLength}) on ${info.backend}; ${run.size} queries, top ${topK}`);

  // --- what produced OUT: never append scores of another model, run or cut-off ---------------------
  const force = values.force || values.overwrite;
  const hasOutput = fs.existsSync(values.out) && fs.statSync(values.out).size > 0;
  const inputRun = values.run ?? values['bm25-json']!;
  let check;
  try {
    check = checkResume({
      out: values.out,
      manifestFile: manifestFileFor(values.out),
      manifest: makeManifest(
        'rerank',
        { model: await modelHash(source), run: await fileSha256(inputRun), topK, maxLength: modelMaxLength, tag: values.tag ?? 'rankdistill' },
        { model: values.model, run: inputRun },
      ),
      force,
      hasOutput,
      outputs: [values.out],
      // Outputs from before manifests: rerankRun itself checks that every query and document belongs to the run.
      legacyDiff: () => [],
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (check.status === 'forced') say(`rerank: the old output is set aside as ${check.setAside.join(', ')}`);
  const resuming = check.status === 'resume';
  try {
    const res = await rerankRun({
      run,
      topK,
      scorer: (pairs) => model.score(pairs, { batchSize }),
      getQuery: (qid) => queries.get(qid),
      getDoc,
      out: values.out,
      resume: resuming,
      tag: values.tag,
      progress: !values.quiet,
    });
    if (resuming) say(`resumed: ${res.resumedQueries} queries were already complete in ${values.out} (--force starts over)`);
    say(`wrote ${values.out}: ${res.run.size} queries (${res.scoredQueries} scored now, ${res.scoredPairs} pairs)`);
  } finally {
    model.dispose();
  }
  return 0;
}

/**
 * sha256 of what fixes the model's scores: its one weights file as it is (a cross-encoder's
 * model.safetensors), or of the list of its files' names and hashes.
 */
async function modelHash(source: ResolvedRanker): Promise<string> {
  const files = source.family.scoreFiles(source.folder);
  if (!files.length) throw new InputError(`no weights found for a ${source.family.name}`, { file: source.folder.dir });
  if (files.length === 1) return fileSha256(path.join(source.folder.dir, files[0]));
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\t${await fileSha256(path.join(source.folder.dir, f))}\n`);
  return h.digest('hex');
}
