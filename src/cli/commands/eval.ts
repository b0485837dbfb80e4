import { parseArgs } from 'node:util';
import { compareBytes, readLlmRerankRun, readQrels, readTrecRun } from '../../data/index.js';
import { evaluateRun, pairedTTest, parseMeasures, randomizationTest, SUPPORTED_MEASURES, type EvaluateOptions } from '../../evaluation/index.js';
import { InputError } from '../../utils/errors.js';
import { intOption } from '../options.js';

export const DEFAULT_MEASURES = 'ndcg_cut_10,recip_rank_10,map,recall_100,P_10';

export const usage = `usage: rankdistill eval --qrels FILE --run FILE [--measures LIST] [--cutoff-run K] [--level N]
                       [--complete] [--per-query] [--json] [--gain linear|exponential] [--by-rank]
                       [--baseline FILE] [--trials N] [--seed N]

Evaluates a TREC run against TREC qrels with trec_eval 9.x semantics: documents ordered by score
descending, ties by docid descending (the rank column is ignored); ideal DCG over every judged
document with relevance > 0; averages over queries in both run and qrels. Prints trec_eval-style
lines 'measure<TAB>qid|all<TAB>value'.

  --measures, -m LIST comma-separated trec_eval names, repeatable (default ${DEFAULT_MEASURES});
                      supported: ${SUPPORTED_MEASURES}; recip_rank_K = MRR@K
                      (RR on the run cut at K); trec_eval's 'ndcg_cut.5,10' form works too
  --cutoff-run K      use only the first K documents of each query (trec_eval -M)
  --level N           binary measures count relevance >= N (trec_eval -l; default 1, TREC DL uses 2)
  --complete          average over all qrels queries, a query missing from the run scoring 0 (trec_eval -c)
  --per-query, -q     also print each query's values
  --json              print JSON instead
  --gain G            nDCG gain: linear (default, trec_eval) or exponential (2^rel - 1)
  --by-rank           order each query of the run (and baseline) by its rank column: for LLM
                      re-ranked runs, whose scores are ties (vote counts)
  --baseline FILE     also compare with this run: paired t-test and randomization test per measure
  --trials N, --seed N  randomization test trials (default 10000) and seed (default 42)`;

/** trec_eval's number format: counts as integers, the rest with 4 decimals. */
function fmt(measure: string, v: number): string {
  return /^num_/.test(measure) ? String(Math.round(v)) : v.toFixed(4);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      qrels: { type: 'string' },
      run: { type: 'string' },
      measures: { type: 'string', short: 'm', multiple: true },
      'cutoff-run': { type: 'string', short: 'M' },
      level: { type: 'string', short: 'l' },
      complete: { type: 'boolean', short: 'c', default: false },
      'per-query': { type: 'boolean', short: 'q', default: false },
      json: { type: 'boolean', default: false },
      gain: { type: 'string' },
      'by-rank': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      trials: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  if (!values.qrels || !values.run) throw new InputError('--qrels and --run are required (see --help)');
  const measureNames = (values.measures ?? [DEFAULT_MEASURES]).join(',').split(',').filter(Boolean);
  // trec_eval's `-m ndcg_cut.5,10` would be split above: rejoin a dotted name with its cutoffs.
  const joined: string[] = [];
  for (const m of measureNames) {
    if (/^\d+$/.test(m) && joined.length && /\.\d+(,\d+)*$/.test(joined[joined.length - 1])) joined[joined.length - 1] += `,${m}`;
    else joined.push(m);
  }
  const measures = parseMeasures(joined).map((m) => m.name);
  if (values.gain !== undefined && values.gain !== 'linear' && values.gain !== 'exponential') {
    throw new InputError(`--gain must be linear or exponential, got '${values.gain}'`);
  }
  const opts: EvaluateOptions = {
    relevanceLevel: intOption(values.level, 'level', 0),
    complete: values.complete,
    gain: values.gain as EvaluateOptions['gain'],
    cutoffRun: intOption(values['cutoff-run'], 'cutoff-run', 1),
  };
  const readRun = (f: string) => (values['by-rank'] ? readLlmRerankRun(f) : readTrecRun(f));
  const qrels = await readQrels(values.qrels);
  const res = evaluateRun(qrels, await readRun(values.run), measures, opts);

  let comparison: Record<string, { baseline: number; system: number; meanDiff: number; tTestP: number; randomizationP: number }> | undefined;
  if (values.baseline) {
    const base = evaluateRun(qrels, await readRun(values.baseline), measures, opts);
    const qids = [...res.perQuery.keys()].filter((q) => base.perQuery.has(q));
    if (qids.length < 2) throw new InputError(`the run and the baseline share ${qids.length} evaluated queries; a paired test needs at least 2`, { file: values.baseline });
    comparison = {};
    const trials = intOption(values.trials, 'trials', 1) ?? 10000;
    const seed = intOption(values.seed, 'seed', 0) ?? 42;
    for (const m of measures) {
      const a = qids.map((q) => res.perQuery.get(q)![m]);
      const b = qids.map((q) => base.perQuery.get(q)![m]);
      const t = pairedTTest(a, b);
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      comparison[m] = { baseline: mean(b), system: mean(a), meanDiff: t.meanDiff, tTestP: t.p, randomizationP: randomizationTest(a, b, { trials, seed }).p };
    }
  }

  if (values.json) {
    const out: Record<string, unknown> = { run: values.run, qrels: values.qrels, options: opts, numQueries: res.numQueries, aggregate: res.aggregate };
    if (values['per-query']) out.perQuery = Object.fromEntries(res.perQuery);
    if (comparison) out.baseline = { run: values.baseline, ...comparison };
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const lines: string[] = [];
  const line = (m: string, q: string, v: string) => lines.push(`${m.padEnd(22)}\t${q}\t${v}`);
  if (values['per-query']) {
    for (const qid of [...res.perQuery.keys()].sort(compareBytes)) {
      for (const m of measures) line(m, qid, fmt(m, res.perQuery.get(qid)![m]));
    }
  }
  line('num_q', 'all', String(res.numQueries));
  for (const m of measures) line(m, 'all', fmt(m, res.aggregate[m]));
  if (comparison) {
    lines.push('', `paired tests vs ${values.baseline} (diff = system − baseline, over the queries both runs evaluate):`);
    for (const [m, c] of Object.entries(comparison)) {
      lines.push(`${m.padEnd(22)}\tbaseline ${c.baseline.toFixed(4)}\tsystem ${c.system.toFixed(4)}\tdiff ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)}\tt-test p ${c.tTestP.toPrecision(3)}\trandomization p ${c.randomizationP.toPrecision(3)}`);
    }
  }
  console.log(lines.join('\n'));
  return 0;
}
