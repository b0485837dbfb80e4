// `rankdistill label`: teacher labels by LLM list-wise ranking (RankGPT sliding window or the
// RRADistill pre-ranked single call), one JSON line per query, resumable.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { readBm25Json, readCorpusTsv, readQueriesTsv, readTrecRun } from '../../data/index.js';
import { Bm25Index, bm25Scorer, fuseRuns, type FusionMethod } from '../../retrieval/index.js';
import { LlmClient, isCleanLabel, labelQueries, summarizeLabels, type LabelMode, type QueryCandidates, type TeacherLabel } from '../../teacher/index.js';
import { InputError } from '../../utils/errors.js';
import { Progress } from '../../utils/progress.js';
import { intOption } from '../options.js';

export const usage = `usage: rankdistill label --llm-url URL --model NAME --out labels.jsonl
         (--bm25-json FILE | --run FILE [--run FILE ...] --corpus FILE | --corpus FILE) [--queries FILE]
         [--mode rankgpt|rradistill] [--window 20 --step 10 --depth 100 | --top-k 10 --bottom-k 10 [--pre-ranker run|bm25] [--reasons]]

Ranks each query's candidates with an OpenAI-compatible chat-completions server and writes one JSON
line per query: {qid, query, mode, model, ranking, hardNegatives, texts, reasons?, calls, parse}
(read by the trainer's listsFromTeacherLabels).

candidates
  --bm25-json FILE     RankGPT / rank_llm retrieve_results JSON (query and passage texts inside)
  --run FILE           TREC run; repeat to merge several retrievers without duplicates (--fusion)
  --fusion M           rrf (reciprocal-rank fusion, k 60; default) or round-robin
  --corpus FILE        docid<TAB>text passages: texts for --run, or, alone, a corpus that in-process
                       BM25 (k1 0.9, b 0.4) retrieves the candidates from
  --queries FILE       qid<TAB>query (required with --run / --corpus; restricts --bm25-json)
  --depth N            candidates kept per query (default 100)
  --limit N            label only the first N queries
modes
  --mode M             rankgpt (default): sliding window, left-out ids appended in their order;
                       rradistill: top-k + bottom-k of the pre-ranked list in one call, left-out
                       ids become hard negatives
  --window N --step N  sliding window (default 20 / 10)
  --top-k N --bottom-k N   RRADistill cut (default 10 / 10)
  --pre-ranker P       run (candidate order, default) or bm25 (BM25 over the query's candidates)
  --reasons            RRADistill: a second call asks for the reasons behind the ranking
LLM
  --llm-url URL        base URL (…/v1); --model NAME; --api-key-env VAR (default OPENAI_API_KEY)
  --temperature T (0)  --max-tokens N  --concurrency N (4)  --timeout SECONDS (120)  --max-retries N (6)
output
  --out FILE           labels (JSONL). Queries already in it are skipped, so a killed run resumes;
                       LLM answers are cached in --cache (default OUT.cache.jsonl) and not paid again
  --failures FILE      queries whose ranking failed, with the failure report (default OUT.failures.jsonl,
                       rewritten each run: failed queries are tried again, cached answers replayed)
  --log FILE           one line per LLM call (default OUT.calls.jsonl)
  --quiet              no progress line`;

function int(v: string | undefined, name: string, dflt: number, min = 0): number {
  return intOption(v, name, min) ?? dflt;
}

function num(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InputError(`expected a non-negative number, got '${v}'`, { field: `--${name}` });
  return n;
}

/** qids already written, after cutting a last line left incomplete by a kill. */
function readDone(file: string): Set<string> {
  const done = new Set<string>();
  if (!fs.existsSync(file)) return done;
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const cut = text.endsWith('\n') ? '' : lines.pop()!;
  if (cut) {
    let complete = false;
    try {
      JSON.parse(cut);
      complete = true;
    } catch {
      // A partial record: drop it, it is labelled again (from the cache).
    }
    if (complete) lines.push(cut);
    fs.writeFileSync(file, lines.filter((l) => l.trim()).map((l) => `${l}\n`).join(''));
  }
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let rec: { qid?: unknown };
    try {
      rec = JSON.parse(l);
    } catch (e) {
      throw new InputError(`not a JSON record (${(e as Error).message}); fix or remove the line to resume`, { file, line: i + 1 });
    }
    if (typeof rec.qid !== 'string') throw new InputError('expected a string', { file, line: i + 1, field: 'qid' });
    done.add(rec.qid);
  });
  return done;
}

async function loadCandidates(v: Record<string, string | string[] | boolean | undefined>, depth: number): Promise<QueryCandidates[]> {
  const queriesFile = v.queries as string | undefined;
  const runs = (v.run as string[] | undefined) ?? [];
  const corpusFile = v.corpus as string | undefined;
  const queries = queriesFile ? await readQueriesTsv(queriesFile) : undefined;
  if (v['bm25-json']) {
    if (runs.length || corpusFile) throw new InputError('give either --bm25-json or --run/--corpus, not both', { field: '--bm25-json' });
    const lists = await readBm25Json(v['bm25-json'] as string);
    return lists
      .filter((l) => !queries || queries.has(l.qid))
      .map((l) => ({ qid: l.qid, query: l.query, candidates: l.hits.slice(0, depth).map((h) => ({ docid: h.docid, text: h.text })) }));
  }
  if (!queries) throw new InputError('--queries is required with --run or --corpus', { field: '--queries' });
  if (!corpusFile) throw new InputError(runs.length ? '--corpus (docid<TAB>text) is required to give the run documents their text' : 'give --bm25-json, --run with --corpus, or --corpus', { field: '--corpus' });
  const corpus = await readCorpusTsv(corpusFile);
  if (!runs.length) {
    const index = Bm25Index.fromDocuments([...corpus].map(([docid, text]) => ({ docid, text })));
    return [...queries].map(([qid, query]) => ({ qid, query, candidates: index.search(query, depth).map((h) => ({ docid: h.docid, text: corpus.get(h.docid)! })) }));
  }
  const fused = fuseRuns(await Promise.all(runs.map((f) => readTrecRun(f))), { method: ((v.fusion as string) ?? 'rrf') as FusionMethod, depth });
  const out: QueryCandidates[] = [];
  for (const [qid, docids] of fused) {
    const query = queries.get(qid);
    if (query === undefined) continue;
    out.push({
      qid,
      query,
      candidates: docids.map((docid) => {
        const text = corpus.get(docid);
        if (text === undefined) throw new InputError(`document ${docid} (query ${qid}) is not in the corpus ${corpusFile}`, { file: runs.join(', '), field: 'docid' });
        return { docid, text };
      }),
    });
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'llm-url': { type: 'string' },
      model: { type: 'string' },
      'api-key-env': { type: 'string' },
      'bm25-json': { type: 'string' },
      run: { type: 'string', multiple: true },
      fusion: { type: 'string' },
      corpus: { type: 'string' },
      queries: { type: 'string' },
      depth: { type: 'string' },
      limit: { type: 'string' },
      mode: { type: 'string' },
      window: { type: 'string' },
      step: { type: 'string' },
      'top-k': { type: 'string' },
      'bottom-k': { type: 'string' },
      'pre-ranker': { type: 'string' },
      reasons: { type: 'boolean' },
      temperature: { type: 'string' },
      'max-tokens': { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'max-retries': { type: 'string' },
      out: { type: 'string' },
      failures: { type: 'string' },
      cache: { type: 'string' },
      log: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const need = (k: 'llm-url' | 'model' | 'out') => {
    if (!v[k]) throw new InputError(`--${k} is required\n\n${usage}`, { field: `--${k}` });
    return v[k] as string;
  };
  const baseUrl = need('llm-url');
  const model = need('model');
  const out = need('out');
  const mode = (v.mode ?? 'rankgpt') as LabelMode;
  if (mode !== 'rankgpt' && mode !== 'rradistill') throw new InputError(`expected rankgpt or rradistill, got '${v.mode}'`, { field: '--mode' });
  if (v.fusion && v.fusion !== 'rrf' && v.fusion !== 'round-robin') throw new InputError(`expected rrf or round-robin, got '${v.fusion}'`, { field: '--fusion' });
  const preRanker = v['pre-ranker'] ?? 'run';
  if (preRanker !== 'run' && preRanker !== 'bm25') throw new InputError(`expected run or bm25, got '${preRanker}'`, { field: '--pre-ranker' });
  const window = int(v.window, 'window', 20, 1);
  const step = int(v.step, 'step', 10, 1);
  if (step > window) throw new InputError(`step ${step} is larger than the window ${window}: documents between windows would never move`, { field: '--step' });
  const concurrency = int(v.concurrency, 'concurrency', 4, 1);
  const depth = int(v.depth, 'depth', 100, 1);
  const failuresFile = v.failures ?? `${out}.failures.jsonl`;

  let queries = await loadCandidates(v, depth);
  if (v.limit !== undefined) queries = queries.slice(0, int(v.limit, 'limit', 0, 0));
  const done = readDone(out);
  const todo = queries.filter((q) => !done.has(q.qid));
  fs.writeFileSync(failuresFile, '');

  const client = new LlmClient({
    baseUrl,
    model,
    apiKeyEnv: v['api-key-env'],
    temperature: num(v.temperature, 'temperature', 0),
    maxTokens: v['max-tokens'] !== undefined ? int(v['max-tokens'], 'max-tokens', 0, 1) : undefined,
    concurrency,
    timeoutMs: num(v.timeout, 'timeout', 120) * 1000,
    maxRetries: int(v['max-retries'], 'max-retries', 6),
    cachePath: v.cache ?? `${out}.cache.jsonl`,
    logPath: v.log ?? `${out}.calls.jsonl`,
  });
  if (client.corruptCacheLines) console.error(`label: skipped ${client.corruptCacheLines} unreadable cache line(s) (a cut last line after a kill is expected)`);
  if (!v.quiet) console.error(`label: ${queries.length} queries, ${done.size} already labelled, ${todo.length} to do; mode ${mode}; ${client.cacheSize} cached answers`);

  const progress = new Progress({ total: queries.length, start: queries.length - todo.length, label: 'label', unit: 'queries', silent: v.quiet });
  const labels: TeacherLabel[] = [];
  let failed = 0;
  await labelQueries(client, todo, {
    mode,
    window,
    step,
    topK: int(v['top-k'], 'top-k', 10),
    bottomK: int(v['bottom-k'], 'bottom-k', 10),
    preRanker: mode === 'rradistill' && preRanker === 'bm25' ? bm25Scorer() : undefined,
    reasons: v.reasons,
    queryConcurrency: concurrency,
    onLabel: (l) => {
      labels.push(l);
      const clean = isCleanLabel(l);
      if (!clean) failed++;
      // One append per record: a kill leaves complete lines (and at most one cut line, dropped on resume).
      fs.appendFileSync(clean ? out : failuresFile, `${JSON.stringify(l)}\n`);
      const s = client.stats;
      progress.tick(1, { calls: s.requests, cached: s.cacheHits, failed });
    },
  });
  progress.finish();
  const sum = summarizeLabels(labels);
  const s = client.stats;
  const lines = [
    `labelled ${sum.clean} queries (${done.size} earlier), ${sum.failed} failed${sum.failed ? ` → ${failuresFile}` : ''}`,
    `LLM requests ${s.requests} (${s.cacheHits} from the cache, ${s.httpCalls} HTTP calls, ${s.retries} retries), tokens ${s.promptTokens} prompt / ${s.completionTokens} completion`,
    `failed calls ${sum.failures}; parser dropped ${sum.parse.duplicates} duplicate and ${sum.parse.outOfRange} out-of-range ids, ${sum.parse.missing} ids missing`,
  ];
  if (mode === 'rradistill') lines.push(`hard negatives ${sum.hardNegatives} (${sum.hardNegativesPerQuery.toFixed(2)} per query)`);
  lines.push(`labels: ${out}`);
  console.log(lines.join('\n'));
  return 0;
}
