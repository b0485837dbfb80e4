// `rankdistill label`: teacher labels by LLM list-wise ranking (RankGPT sliding window or the
// RRADistill pre-ranked single call), one JSON line per query, resumable.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { readBm25Json, readCorpusTsv, readQueriesTsv, readTrecRun, writeTrecRun } from '../../data/index.js';
import { parseJson } from '../../io/json.js';
import { Bm25Index, bm25Scorer, fuseRuns, type FusionMethod } from '../../retrieval/index.js';
import {
  LlmClient,
  LlmError,
  isCleanLabel,
  labelQueries,
  labelsToRun,
  promptTemplateVersion,
  readTeacherLabels,
  summarizeLabels,
  type LabelMode,
  type QueryCandidates,
  type TeacherLabel,
} from '../../teacher/index.js';
import { InputError } from '../../utils/errors.js';
import { formatDuration, Progress } from '../../utils/progress.js';
import { ExitCode, outcomeCode } from '../exit-codes.js';
import { FailureReporter } from '../failures.js';
import { checkResume, fileSha256, makeManifest, manifestFileFor } from '../manifest.js';
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
  --llm-url URL        base URL (…/v1); --model NAME
  --api-key-env VAR    environment variable holding the API key (default OPENAI_API_KEY); an unset or
                       empty variable stops the command at once unless --no-api-key
  --no-api-key         the endpoint needs no key (a local vLLM / llama.cpp / Ollama server)
  --temperature T (0)  --max-tokens N  --concurrency N (4)  --timeout SECONDS (120)  --max-retries N (6)
  --max-connect-failures N   stop when this many connections in a row find no server (default 3)
output
  --out FILE           labels (JSONL). Queries already in it are skipped, so a killed run resumes;
                       LLM answers are cached in --cache (default OUT.cache.jsonl) and not paid again.
                       OUT.manifest.json records the settings; a restart with other settings (mode,
                       model, window/step, top-k/bottom-k, depth, temperature, prompt template,
                       candidate files) is refused, naming each difference
  --force              set the old labels aside (OUT.replaced-TIME) and start a new file
  --failures FILE      queries whose ranking failed, with the failure report (default OUT.failures.jsonl,
                       rewritten each run: failed queries are tried again as a whole, cached answers replayed)
  --log FILE           one line per LLM call (default OUT.calls.jsonl)
  --trec-out FILE      also write every clean label of OUT as a TREC run (see labels-to-run)
  --quiet              no progress line (failures and the summary are still printed)

exit status: 0 all labelled; 2 bad input (nothing sent); 3 some queries failed (run again to retry
them); 4 nothing labelled (every query failed, or a fatal error: HTTP 401/403, 404 unknown model,
no server at --llm-url). The first failures' causes are printed as they happen.`;

function int(v: string | undefined, name: string, dflt: number, min = 0): number {
  return intOption(v, name, min) ?? dflt;
}

function num(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InputError(`expected a non-negative number, got '${v}'`, { field: `--${name}` });
  return n;
}

/** qids already written (with their mode and model), after cutting a last line left incomplete by a kill. */
function readDone(file: string): Map<string, { mode: unknown; model: unknown }> {
  const done = new Map<string, { mode: unknown; model: unknown }>();
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
    const rec = parseJson(l, { file, line: i + 1, what: 'not a JSON record; fix or remove the line to resume' }) as { qid?: unknown; mode?: unknown; model?: unknown };
    if (typeof rec?.qid !== 'string') throw new InputError('expected a string', { file, line: i + 1, field: 'qid' });
    done.set(rec.qid, { mode: rec.mode, model: rec.model });
  });
  return done;
}

/** The files the candidates come from, named (their sha256 go into the manifest). */
function candidateFiles(v: Record<string, string | string[] | boolean | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (v['bm25-json']) out.push(['bm25-json', v['bm25-json'] as string]);
  ((v.run as string[] | undefined) ?? []).forEach((r, i) => out.push([`run${i + 1}`, r]));
  if (v.corpus) out.push(['corpus', v.corpus as string]);
  if (v.queries) out.push(['queries', v.queries as string]);
  return out;
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
      'no-api-key': { type: 'boolean' },
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
      'max-connect-failures': { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      failures: { type: 'string' },
      cache: { type: 'string' },
      log: { type: 'string' },
      'trec-out': { type: 'string' },
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
  const topK = int(v['top-k'], 'top-k', 10);
  const bottomK = int(v['bottom-k'], 'bottom-k', 10);
  const temperature = num(v.temperature, 'temperature', 0);
  const maxTokens = v['max-tokens'] !== undefined ? int(v['max-tokens'], 'max-tokens', 0, 1) : undefined;
  const failuresFile = v.failures ?? `${out}.failures.jsonl`;
  const say = (m: string) => !v.quiet && console.error(m);

  // The key is checked before anything is read or sent: a typo in the variable's name must not
  // become hundreds of unauthenticated calls.
  const keyVar = v['api-key-env'] ?? 'OPENAI_API_KEY';
  if (v['no-api-key'] && v['api-key-env']) throw new InputError('give --api-key-env or --no-api-key, not both', { field: '--no-api-key' });
  if (!v['no-api-key'] && !process.env[keyVar]) {
    throw new InputError(
      `the API-key variable ${keyVar} is ${keyVar in process.env ? 'empty' : 'not set'}: export it, name another with --api-key-env VAR, or give --no-api-key for a server that needs none`,
      { field: '--api-key-env' },
    );
  }

  let queries = await loadCandidates(v, depth);
  if (v.limit !== undefined) queries = queries.slice(0, int(v.limit, 'limit', 0, 0));
  // Nothing to rank, nothing to ask: such queries are neither labels nor failures.
  const empty = queries.filter((q) => !q.candidates.length);
  if (empty.length) {
    console.error(`label: ${empty.length} quer${empty.length === 1 ? 'y has' : 'ies have'} no candidates and ${empty.length === 1 ? 'is' : 'are'} skipped (${empty.slice(0, 5).map((q) => q.qid).join(', ')}${empty.length > 5 ? ', …' : ''})`);
    queries = queries.filter((q) => q.candidates.length);
  }

  // --- what produced OUT: refuse to mix labels made another way ---------------------------------
  const inputs: Record<string, string> = {};
  for (const [name, f] of candidateFiles(v)) inputs[name] = await fileSha256(f);
  const settings: Record<string, unknown> = {
    mode,
    model,
    promptTemplate: promptTemplateVersion(),
    maxWords: 300,
    temperature,
    maxTokens: maxTokens ?? null,
    depth,
    ...(mode === 'rankgpt' ? { window, step } : { topK, bottomK, preRanker, reasons: !!v.reasons }),
    ...((v.run as string[] | undefined)?.length ? { fusion: v.fusion ?? 'rrf' } : {}),
    candidates: inputs,
  };
  const manifestFile = manifestFileFor(out);
  const hasOutput = fs.existsSync(out) && fs.statSync(out).size > 0;
  const check = checkResume({
    out,
    manifestFile,
    manifest: makeManifest('label', settings, { llmUrl: baseUrl, files: Object.fromEntries(candidateFiles(v)) }),
    force: v.force,
    hasOutput,
    outputs: [out, failuresFile, ...(v['trec-out'] ? [v['trec-out']] : [])],
    // Labels written before manifests existed carry their mode and model: compare those.
    legacyDiff: () => {
      const diff = new Set<string>();
      for (const r of readDone(out).values()) {
        if (r.mode !== mode) diff.add(`mode: ${JSON.stringify(r.mode)} then, "${mode}" now`);
        if (r.model !== model) diff.add(`model: ${JSON.stringify(r.model)} then, "${model}" now`);
      }
      return [...diff];
    },
  });
  if (check.status === 'forced') say(`label: --force: the old output is set aside as ${check.setAside.join(', ')}; starting a new file`);
  const done = readDone(out);
  const todo = queries.filter((q) => !done.has(q.qid));
  fs.writeFileSync(failuresFile, '');

  const progress = new Progress({ total: queries.length, start: queries.length - todo.length, label: 'label', unit: 'queries', silent: v.quiet });
  const reporter = new FailureReporter({ command: 'label', recordedIn: failuresFile, print: (l) => progress.note(l) });
  let waiting: ReturnType<typeof setTimeout> | undefined;
  const client = new LlmClient({
    baseUrl,
    model,
    apiKey: v['no-api-key'] ? '' : undefined,
    apiKeyEnv: keyVar,
    temperature,
    maxTokens,
    concurrency,
    timeoutMs: num(v.timeout, 'timeout', 120) * 1000,
    maxRetries: int(v['max-retries'], 'max-retries', 6),
    maxConnectFailures: int(v['max-connect-failures'], 'max-connect-failures', 3, 1),
    cachePath: v.cache ?? `${out}.cache.jsonl`,
    logPath: v.log ?? `${out}.calls.jsonl`,
    // Retries and their backoff show in the progress line (a server in trouble is visible at once).
    onRetry: (e) => {
      progress.set({ retries: client.stats.retries, wait: `${formatDuration(e.delayMs / 1000)} (${e.status ? `HTTP ${e.status}` : e.error.split(':')[0]}, attempt ${e.attempt}/${e.maxAttempts})` });
      clearTimeout(waiting);
      waiting = setTimeout(() => progress.set({ wait: undefined }), e.delayMs);
      waiting.unref();
    },
  });
  if (client.corruptCacheLines) console.error(`label: skipped ${client.corruptCacheLines} unreadable cache line(s) (a cut last line after a kill is expected)`);
  say(`label: ${queries.length} queries, ${done.size} already labelled${done.size ? ' (same settings)' : ''}, ${todo.length} to do; mode ${mode}; ${client.cacheSize} cached answers`);

  const labels: TeacherLabel[] = [];
  let failed = 0;
  let fatal: LlmError | null = null;
  try {
    await labelQueries(client, todo, {
      mode,
      window,
      step,
      topK,
      bottomK,
      preRanker: mode === 'rradistill' && preRanker === 'bm25' ? bm25Scorer() : undefined,
      reasons: v.reasons,
      queryConcurrency: concurrency,
      onLabel: (l) => {
        labels.push(l);
        const clean = isCleanLabel(l);
        // One append per record: a kill leaves complete lines (and at most one cut line, dropped on resume).
        fs.appendFileSync(clean ? out : failuresFile, `${JSON.stringify(l)}\n`);
        if (!clean) {
          failed++;
          const f = l.failures!.find((x) => x.kind !== 'reasons')!;
          reporter.failed(`query ${l.qid}`, `${f.kind === 'unparseable' ? 'no ranking in the answer' : f.message}${f.window ? ` (the window over candidates ${f.window[0] + 1}–${f.window[1]})` : ''}`);
        }
        const s = client.stats;
        progress.tick(1, { calls: s.requests, cached: s.cacheHits, retries: s.retries, failed });
      },
    });
  } catch (e) {
    if (!(e instanceof LlmError && e.fatal)) throw e;
    fatal = e;
    reporter.stop(e.message);
  } finally {
    clearTimeout(waiting);
  }
  progress.finish();
  const sum = summarizeLabels(labels);
  const s = client.stats;
  const notDone = todo.length - labels.length;
  const lines = [
    `labelled ${sum.clean} queries (${done.size} earlier), ${sum.failed} failed${sum.failed ? ` → ${failuresFile}` : ''}${fatal ? `, ${notDone} not tried (stopped)` : ''}`,
    `LLM requests ${s.requests} (${s.cacheHits} from the cache, ${s.httpCalls} HTTP calls, ${s.retries} retries), tokens ${s.promptTokens} prompt / ${s.completionTokens} completion`,
    `failed calls ${sum.failures}; parser dropped ${sum.parse.duplicates} duplicate and ${sum.parse.outOfRange} out-of-range ids, ${sum.parse.missing} ids missing`,
  ];
  if (mode === 'rradistill') lines.push(`hard negatives ${sum.hardNegatives} (${sum.hardNegativesPerQuery.toFixed(2)} per query)`);
  lines.push(`labels: ${out}`);
  if (v['trec-out']) {
    const { labels: all } = await readTeacherLabels(out);
    const run = labelsToRun(all);
    await writeTrecRun(v['trec-out'], run);
    lines.push(`TREC run: ${v['trec-out']} (${run.size} queries)`);
  }
  console.log(lines.join('\n'));
  const code = outcomeCode(sum.clean, failed + (fatal ? notDone : 0), fatal !== null);
  if (code !== ExitCode.OK) {
    console.error(`label: exit ${code}: ${code === ExitCode.PARTIAL ? 'some queries failed; run the same command again to retry them' : 'nothing was labelled'}${fatal ? ` (stopped: ${fatal.message.split(' (server said')[0]})` : ''}`);
  }
  return code;
}
