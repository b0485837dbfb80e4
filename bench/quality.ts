// `npm run bench:quality`: the same distillation with rankdistill and with the PyTorch peer a user
// would pick (sentence-transformers 6: CrossEncoder + RankNetLoss, SentenceTransformer +
// DistillKLDivLoss), side by side: the same init (for a cross-encoder, one freshly initialised head
// saved once and loaded by both), the same training lists in the same order (a JSONL plan both sides
// read: one list per line, `--lists` consecutive lines per optimiser step), the same loss, learning
// rate, schedule (linear, 10% warm-up), AdamW, clipping, batch, max length, steps and seed. Both
// sides' scores are evaluated here by src/evaluation (trec_eval semantics): nDCG@10 on DL20 and on
// DL19 without the 13 dev queries, a paired test between the two, the training wall-clock ratio
// and each side's peak RSS. Each training runs in its own process; the order of the sides
// alternates between seeds. Results: bench/results/quality/quality-<time>.json.
//
//   npm run bench:quality [-- --students cross-encoder,bi-encoder --seeds 3 --steps 20 --lists 4 --list-size 8 --top-k 20 --threads 1]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, BiEncoder, CrossEncoder, Trainer, readBm25Json, readQrels, evaluateRun, pairedTTest, randomizationTest, resolvePretrained, type CandidateList, type Qrels, type TrainerConfig, type TrainingList } from 'rankdistill';
import { TOKENIZER_FILES } from 'rankdistill/hub';
import { prepareList } from 'rankdistill/training';
import { SeededRandom } from 'rankdistill/utils';
import { DEMO_MODEL, loadTeacherLists } from 'rankdistill/recipes';
import { benchOptions } from './options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join(root, '..', 'shared', 'data'));

type StudentKind = 'cross-encoder' | 'bi-encoder';

interface Job {
  student: StudentKind;
  init: string;
  plan: string;
  listsPerStep: number;
  steps: number;
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  maxGradNorm: number;
  maxLength: number;
  /** Our side: pairs per forward pass (GradCache chunks when below the batch; default the whole batch, as the peer runs it). */
  maxPairsPerForward: number;
  /** bi-encoder KL: student and teacher temperatures. */
  temperature: number;
  teacherTemperature: number;
  seed: number;
  threads: number;
  evalPairs: string;
  result: string;
}

interface EvalPair {
  qid: string;
  docid: string;
  query: string;
  text: string;
}

interface SideResult {
  trainSeconds: number;
  peakRssMB: number;
  losses: number[];
  scores: number[];
}

// --- worker: our side ------------------------------------------------------------------------------

async function ourSide(job: Job): Promise<void> {
  await initBackend();
  const plan = fs.readFileSync(job.plan, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as TrainingList);
  const cfg: TrainerConfig = {
    listsPerBatch: job.listsPerStep,
    listSize: Math.max(...plan.map((l) => l.docs.length)),
    maxSteps: job.steps,
    shuffle: false,
    lr: job.lr,
    weightDecay: job.weightDecay,
    schedule: 'linear',
    warmupRatio: job.warmupRatio,
    maxGradNorm: job.maxGradNorm,
    seed: job.seed,
    progress: false,
    // GradCache chunks: the same gradient, a bounded activation memory (tfjs keeps ~0.3 GB per pair of 128 tokens on the tape).
    maxPairsPerForward: job.maxPairsPerForward,
  };
  const model =
    job.student === 'cross-encoder'
      ? await CrossEncoder.fromPretrained(job.init, { maxLength: job.maxLength, seed: job.seed, loadReport: false })
      : await BiEncoder.fromPretrained(job.init, { maxSeqLength: job.maxLength, scale: 1, seed: job.seed });
  if (job.student === 'cross-encoder') {
    cfg.loss = 'ranknet';
  } else {
    // sentence-transformers' DistillKLDivLoss: KL(softmax(t/τ_t) ‖ softmax(cos/τ))·τ², batch mean.
    cfg.loss = 'kl_divergence';
    cfg.lossOptions = { temperature: job.temperature, teacherTemperature: job.teacherTemperature };
  }
  const trainer = new Trainer(model, cfg);
  const t0 = Date.now();
  const tr = await trainer.train(plan.slice(0, job.steps * job.listsPerStep));
  const trainSeconds = (Date.now() - t0) / 1000;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  trainer.dispose();
  const pairs = JSON.parse(fs.readFileSync(job.evalPairs, 'utf8')) as EvalPair[];
  const scores = await model.score(
    pairs.map((p) => [p.query, p.text] as [string, string]),
    { batchSize: 32 },
  );
  model.dispose();
  const out: SideResult = { trainSeconds, peakRssMB, losses: tr.losses, scores };
  fs.writeFileSync(job.result, JSON.stringify(out));
}

// --- orchestrator ---------------------------------------------------------------------------------

function runSide(side: 'rankdistill' | 'pytorch', jobFile: string): void {
  const r =
    side === 'rankdistill'
      ? spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--worker', jobFile], { stdio: 'inherit' })
      : spawnSync(path.join(root, '.cache', 'peer', 'bin', 'python'), [path.join(root, 'bench', 'peer', 'quality_peer.py'), jobFile], {
          stdio: 'inherit',
          env: { ...process.env, OMP_NUM_THREADS: '2', TRANSFORMERS_VERBOSITY: 'error', TOKENIZERS_PARALLELISM: 'false' },
        });
  if (r.status !== 0) throw new Error(`${side} side failed (exit ${r.status}, signal ${r.signal}) on ${jobFile}`);
}

/** The training plan: epochs of seeded shuffles, each list cut to `listSize` (the Trainer's sampling), `steps × lists` lines. */
function writePlan(file: string, lists: TrainingList[], steps: number, perStep: number, listSize: number, seed: number): void {
  const rng = new SeededRandom(seed);
  const out: string[] = [];
  let order: TrainingList[] = [];
  while (out.length < steps * perStep) {
    if (!order.length) order = rng.shuffle(lists);
    const l = order.shift()!;
    const p = prepareList(l, listSize, rng, 'top-and-random');
    const keep = p.mask.map((m, i) => (m ? i : -1)).filter((i) => i >= 0);
    out.push(JSON.stringify({ qid: l.qid, query: l.query, docs: keep.map((i) => p.docs[i]), labels: keep.map((i) => p.labels[i]) }));
  }
  fs.writeFileSync(file, `${out.join('\n')}\n`);
}

function ndcgPerQuery(qrels: Qrels, pairs: EvalPair[], scores: number[], qids: string[]): number[] {
  const run = new Map<string, Array<{ qid: string; docid: string; rank: number; score: number; tag: string }>>();
  pairs.forEach((p, i) => {
    if (!run.has(p.qid)) run.set(p.qid, []);
    run.get(p.qid)!.push({ qid: p.qid, docid: p.docid, rank: 0, score: scores[i], tag: 'x' });
  });
  const r = evaluateRun(qrels, run, ['ndcg_cut_10'], {});
  return qids.map((q) => r.perQuery.get(q)?.ndcg_cut_10 ?? 0);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { opt, num } = benchOptions(['students', 'seeds', 'steps', 'lists', 'list-size', 'lr-ce', 'lr-bi', 'max-length', 'top-k', 'out', 'threads', 'teacher-temperature', 'max-pairs-per-forward']);
  const students = opt('students', 'QUALITY_STUDENTS', 'cross-encoder,bi-encoder').split(',') as StudentKind[];
  for (const s of students) if (s !== 'cross-encoder' && s !== 'bi-encoder') throw new Error(`--students: unknown student '${s}'`);
  const seeds = num('seeds', 'QUALITY_SEEDS', 3);
  const steps = num('steps', 'QUALITY_STEPS', 30);
  const perStep = num('lists', 'QUALITY_LISTS', 4);
  const listSize = num('list-size', 'QUALITY_LIST_SIZE', 8);
  const maxLength = num('max-length', 'QUALITY_MAX_LENGTH', 128);
  const topK = num('top-k', 'QUALITY_TOP_K', 100);
  const threads = num('threads', 'QUALITY_THREADS', 2);
  const lr: Record<StudentKind, number> = { 'cross-encoder': num('lr-ce', 'QUALITY_LR_CE', 5e-5), 'bi-encoder': num('lr-bi', 'QUALITY_LR_BI', 1e-5) };
  const outDir = path.resolve(opt('out', 'QUALITY_OUT', path.join(root, 'bench', 'results', 'quality')));
  fs.mkdirSync(outDir, { recursive: true });
  await initBackend();

  const init = await resolvePretrained(DEMO_MODEL, { files: ['config.json', 'model.safetensors'], optionalFiles: [...TOKENIZER_FILES, 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json', 'config_sentence_transformers.json'] });
  // The recipe's dev split (seed 13) stays out of training and out of the DL19 evaluation.
  const dl19 = await readBm25Json(path.join(dataDir, 'trec-dl-2019-passage/bm25-top100.json'));
  const devQids = new Set(new SeededRandom(13).shuffle(dl19.map((c) => c.qid)).slice(0, 13));
  const { lists } = await loadTeacherLists({ dataDir, reason2rank: [], teacherDepth: 100, exclude: devQids, dl19 });
  const dl20 = await readBm25Json(path.join(dataDir, 'trec-dl-2020-passage/bm25-top100.json'));
  const q19 = await readQrels(path.join(dataDir, 'trec-dl-2019-passage/qrels.txt'));
  const q20 = await readQrels(path.join(dataDir, 'trec-dl-2020-passage/qrels.txt'));
  const sets: Array<{ name: string; lists: CandidateList[]; qrels: Qrels }> = [
    { name: 'DL20', lists: dl20.filter((c) => q20.has(c.qid)), qrels: q20 },
    { name: 'DL19 − dev', lists: dl19.filter((c) => !devQids.has(c.qid) && q19.has(c.qid)), qrels: q19 },
  ];
  const evalPairs: EvalPair[] = sets.flatMap((s) => s.lists.flatMap((c) => c.hits.slice(0, topK).map((h) => ({ qid: `${s.name}:${c.qid}`, docid: h.docid, query: c.query, text: h.text }))));
  const evalFile = path.join(outDir, 'eval-pairs.json');
  fs.writeFileSync(evalFile, JSON.stringify(evalPairs));
  const prefixed = (s: (typeof sets)[number]) => new Map([...s.qrels].map(([q, m]) => [`${s.name}:${q}`, m]));
  console.log(`bench:quality — ${students.join(', ')}; ${seeds} seeds × ${steps} steps × ${perStep} lists of ${listSize} (DL19 teacher lists, dev held out); max length ${maxLength}; eval top-${topK} of ${sets.map((s) => `${s.name} (${s.lists.length} q)`).join(', ')}`);

  const rows: Array<Record<string, unknown>> = [];
  for (const student of students) {
    for (let k = 0; k < seeds; k++) {
      const seed = 1000 + k;
      const plan = path.join(outDir, `plan-seed${seed}.jsonl`);
      writePlan(plan, lists, steps, perStep, listSize, seed);
      let studentInit = init;
      if (student === 'cross-encoder') {
        // One fresh head for both sides: our seeded initialisation, saved in HF format.
        studentInit = path.join(outDir, `init-ce-seed${seed}`);
        const ce = await CrossEncoder.fromPretrained(init, { seed, loadReport: false });
        await ce.save(studentInit);
        ce.dispose();
      }
      const job = (side: string): Job => ({
        student, init: studentInit, plan, listsPerStep: perStep, steps, lr: lr[student], weightDecay: 0.01, warmupRatio: 0.1, maxGradNorm: 1,
        maxLength, maxPairsPerForward: num('max-pairs-per-forward', 'QUALITY_MAX_PAIRS_PER_FORWARD', perStep * listSize), temperature: 0.05, teacherTemperature: num('teacher-temperature', 'QUALITY_TEACHER_TEMPERATURE', 0.2), seed, threads, evalPairs: evalFile,
        result: path.join(outDir, `result-${student}-${side}-seed${seed}.json`),
      });
      const res: Record<string, SideResult> = {};
      // Alternate which side runs first (a shared machine's load drifts).
      for (const side of k % 2 === 0 ? (['rankdistill', 'pytorch'] as const) : (['pytorch', 'rankdistill'] as const)) {
        const j = job(side);
        const jf = path.join(outDir, `job-${student}-${side}-seed${seed}.json`);
        fs.writeFileSync(jf, JSON.stringify(j));
        console.log(`  ${student} seed ${seed}: ${side} …`);
        runSide(side, jf);
        res[side] = JSON.parse(fs.readFileSync(j.result, 'utf8')) as SideResult;
      }
      const perSet = sets.map((s) => {
        const idx = evalPairs.map((p, i) => (p.qid.startsWith(`${s.name}:`) ? i : -1)).filter((i) => i >= 0);
        const ps = idx.map((i) => evalPairs[i]);
        const qids = s.lists.map((c) => `${s.name}:${c.qid}`);
        const ours = ndcgPerQuery(prefixed(s), ps, idx.map((i) => res.rankdistill.scores[i]), qids);
        const peer = ndcgPerQuery(prefixed(s), ps, idx.map((i) => res.pytorch.scores[i]), qids);
        return { set: s.name, ours, peer, oursMean: mean(ours), peerMean: mean(peer), tTestP: pairedTTest(ours, peer).p, randomizationP: randomizationTest(ours, peer, { trials: 10000, seed }).p };
      });
      const row = {
        student, seed,
        trainSeconds: { rankdistill: res.rankdistill.trainSeconds, pytorch: res.pytorch.trainSeconds },
        peakRssMB: { rankdistill: res.rankdistill.peakRssMB, pytorch: res.pytorch.peakRssMB },
        loss: { rankdistill: [res.rankdistill.losses[0], res.rankdistill.losses.at(-1)], pytorch: [res.pytorch.losses[0], res.pytorch.losses.at(-1)] },
        sets: perSet,
      };
      rows.push(row);
      console.log(
        `  ${student} seed ${seed}: ${perSet.map((p) => `${p.set} ours ${p.oursMean.toFixed(4)} / torch ${p.peerMean.toFixed(4)} (p ${p.tTestP.toPrecision(2)})`).join('; ')}; ` +
          `train ${res.rankdistill.trainSeconds.toFixed(0)} s / ${res.pytorch.trainSeconds.toFixed(0)} s; peak RSS ${res.rankdistill.peakRssMB.toFixed(0)} / ${res.pytorch.peakRssMB.toFixed(0)} MB`,
      );
    }
  }

  // Summary: per student and set, mean ± sd over seeds, a paired test on the seed-averaged per-query nDCG@10.
  const lines = ['', '| student | eval set | rankdistill nDCG@10 (mean ± sd, min–max) | PyTorch nDCG@10 | Δ | paired t p / randomization p (seed-averaged per query) | train time torch/ours | peak RSS ours / torch MB |', '|---|---|---|---|---|---|---|---|'];
  for (const student of students) {
    const rs = rows.filter((r) => r.student === student) as Array<{ trainSeconds: Record<string, number>; peakRssMB: Record<string, number>; sets: Array<{ set: string; ours: number[]; peer: number[]; oursMean: number; peerMean: number }> }>;
    for (const s of sets) {
      const per = rs.map((r) => r.sets.find((x) => x.set === s.name)!);
      const o = per.map((p) => p.oursMean);
      const t = per.map((p) => p.peerMean);
      const avgQ = (key: 'ours' | 'peer') => per[0][key].map((_, i) => mean(per.map((p) => p[key][i])));
      const a = avgQ('ours');
      const b = avgQ('peer');
      const fmt = (xs: number[]) => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)} (${Math.min(...xs).toFixed(4)}–${Math.max(...xs).toFixed(4)})`;
      lines.push(
        `| ${student} | ${s.name} | ${fmt(o)} | ${fmt(t)} | ${(mean(o) - mean(t) >= 0 ? '+' : '')}${(mean(o) - mean(t)).toFixed(4)} | ${pairedTTest(a, b).p.toPrecision(2)} / ${randomizationTest(a, b, { trials: 10000, seed: 7 }).p.toPrecision(2)} | ` +
          `${median(rs.map((r) => r.trainSeconds.pytorch / r.trainSeconds.rankdistill)).toFixed(2)} (median; ${rs.map((r) => `${r.trainSeconds.rankdistill.toFixed(0)}/${r.trainSeconds.pytorch.toFixed(0)} s`).join(', ')}) | ${median(rs.map((r) => r.peakRssMB.rankdistill)).toFixed(0)} / ${median(rs.map((r) => r.peakRssMB.pytorch)).toFixed(0)} |`,
      );
    }
  }
  console.log(lines.join('\n'));
  const file = path.join(outDir, `quality-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ settings: { students, seeds, steps, perStep, listSize, maxLength, topK, lr, threads }, rows, table: lines.join('\n') }, null, 1));
  console.log(`\nresults: ${file}`);
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt >= 0) await ourSide(JSON.parse(fs.readFileSync(process.argv[workerAt + 1], 'utf8')) as Job);
else await main();
