// Model cards: the README.md a ranker's save() writes beside its weights, as sentence-transformers
// does: YAML metadata (library, tags, base model, pipeline, evaluation results as a model-index),
// then what the model is, how it was trained (data, teacher, loss, settings), how it scored, and how
// to load it in rankdistill and in Python. One writer for every ranker; each fills in what it knows
// about itself (ModelDescription) and the training run adds what it knows (ModelCardData). Anything
// unknown is left out, never guessed.
import fs from 'node:fs';
import path from 'node:path';
import { libraryVersion } from '../../utils/version.js';

/** What a training run knows about a model (the Trainer, a recipe, or a user fills it in). */
export interface ModelCardData {
  /** Where the weights started: a checkpoint folder or hub id. Unset: from scratch (random weights). */
  baseModel?: string;
  /** The training data, one line per source. */
  trainingData?: string[];
  /** The teacher whose rankings were distilled (an LLM and how it was asked). */
  teacher?: string;
  /** Ranking loss (registry name) and its options. */
  loss?: string;
  lossOptions?: Record<string, unknown>;
  /** Training hyper-parameters. */
  settings?: Record<string, unknown>;
  /** What the run did. */
  training?: { steps?: number; epochs?: number; lists?: number; seconds?: number; firstLoss?: number; lastLoss?: number; stoppedEarly?: boolean };
  /** Evaluation results, one row each (test sets, and the dev split that chose the checkpoint). */
  evaluation?: ModelCardResult[];
  /** Free text appended to the description. */
  notes?: string[];
  license?: string;
  language?: string;
}

export interface ModelCardResult {
  dataset: string;
  metric: string;
  value: number;
  /** A baseline on the same queries, and the paired test of the difference. */
  baseline?: { name: string; value: number };
  pValue?: number;
  /** E.g. "BM25 top-100 reranked" or "best of 4 evaluations, step 140". */
  note?: string;
}

/** What a ranker knows about itself; given by its save(). */
export interface ModelDescription {
  /** One line: "BERT cross-encoder re-ranker". */
  title: string;
  /** Rows of the model table (architecture, heads, scoring). */
  facts: Array<[string, string]>;
  parameters: number;
  maxLength: number;
  tags: string[];
  /** Hugging Face metadata. */
  pipelineTag?: string;
  /** rankdistill (TypeScript) usage; `{dir}` stands for the model folder. */
  rankdistill: string;
  /** Python usage, each a titled code block (sentence-transformers, transformers); `{dir}` as above. */
  python?: Array<{ title: string; code: string; note?: string }>;
  /** Said instead when Python libraries cannot load the model as it is used here. */
  pythonNote?: string;
  /** The paper(s) the method follows. */
  references?: string[];
}

const yamlString = (s: string) => JSON.stringify(s);
const fmt = (v: unknown): string => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString()) : typeof v === 'string' ? v : JSON.stringify(v));

/** The card's markdown text for a model saved in `dir`. */
export function renderModelCard(dir: string, desc: ModelDescription, data: ModelCardData = {}): string {
  const fill = (s: string) => s.replaceAll('{dir}', dir);
  const meta: string[] = ['---', 'library_name: rankdistill'];
  if (data.license) meta.push(`license: ${yamlString(data.license)}`);
  if (data.language) meta.push(`language: ${yamlString(data.language)}`);
  meta.push('tags:', ...['rankdistill', ...desc.tags].map((t) => `- ${yamlString(t)}`));
  if (desc.pipelineTag) meta.push(`pipeline_tag: ${desc.pipelineTag}`);
  if (data.baseModel) meta.push(`base_model: ${yamlString(data.baseModel)}`);
  const results = data.evaluation ?? [];
  if (results.length) {
    // A trainer's final/ folder is named after its run.
    const name = path.basename(path.resolve(dir)) === 'final' ? path.basename(path.dirname(path.resolve(dir))) : path.basename(path.resolve(dir));
    meta.push('model-index:', `- name: ${yamlString(name)}`, '  results:');
    for (const r of results) {
      meta.push('  - task:', '      type: text-ranking', '    dataset:', `      name: ${yamlString(r.dataset)}`, `      type: ${yamlString(r.dataset)}`, '    metrics:', `    - type: ${yamlString(r.metric)}`, `      value: ${r.value}`);
    }
  }
  meta.push('---');

  const out: string[] = [meta.join('\n'), '', `# ${desc.title}`, ''];
  const how = data.teacher ? ` distilled from the rankings of ${data.teacher}` : data.loss ? ' trained' : '';
  out.push(
    `A passage re-ranker: given a query and a passage it gives a relevance score (higher is more relevant); sort a query's candidates by it.` +
      (how ? ` It was${how} with rankdistill.` : ''),
  );
  for (const n of data.notes ?? []) out.push('', n);
  out.push('', '## Model', '', '| | |', '|---|---|');
  for (const [k, v] of desc.facts) out.push(`| ${k} | ${v} |`);
  out.push(`| parameters | ${(desc.parameters / 1e6).toFixed(2)}M |`, `| maximum input length | ${desc.maxLength} tokens |`);
  out.push(`| initialised from | ${data.baseModel ? `\`${data.baseModel}\`` : data.loss ? 'random weights (trained from scratch)' : 'not recorded'} |`);

  if (data.trainingData?.length || data.teacher || data.loss || data.settings || data.training) {
    out.push('', '## Training', '');
    if (data.trainingData?.length) out.push('Data:', '', ...data.trainingData.map((d) => `- ${d}`), '');
    if (data.teacher) out.push(`Teacher: ${data.teacher}`, '');
    if (data.loss) out.push(`Loss: \`${data.loss}\`${data.lossOptions && Object.keys(data.lossOptions).length ? ` with ${Object.entries(data.lossOptions).map(([k, v]) => `${k} = ${fmt(v)}`).join(', ')}` : ''}`, '');
    const t = data.training;
    if (t) {
      const bits = [
        t.steps !== undefined ? `${t.steps} optimiser steps` : null,
        t.epochs !== undefined ? `${t.epochs} epoch${t.epochs === 1 ? '' : 's'}` : null,
        t.lists !== undefined ? `${t.lists} training lists` : null,
        t.seconds !== undefined ? `${Math.round(t.seconds)} s` : null,
        t.firstLoss !== undefined && t.lastLoss !== undefined ? `loss ${fmt(t.firstLoss)} → ${fmt(t.lastLoss)}` : t.lastLoss !== undefined ? `final loss ${fmt(t.lastLoss)}` : null,
        t.stoppedEarly ? 'stopped early (no dev improvement)' : null,
      ].filter(Boolean);
      if (bits.length) out.push(`Run: ${bits.join(', ')}.`, '');
    }
    if (data.settings && Object.keys(data.settings).length) {
      out.push('| setting | value |', '|---|---|', ...Object.entries(data.settings).map(([k, v]) => `| ${k} | ${fmt(v)} |`), '');
    }
  }

  if (results.length) {
    const withBase = results.some((r) => r.baseline);
    out.push('## Evaluation', '');
    out.push(`| data | metric | value |${withBase ? ' baseline | Δ | p |' : ''}${results.some((r) => r.note) ? ' note |' : ''}`);
    out.push(`|---|---|---:|${withBase ? '---|---:|---:|' : ''}${results.some((r) => r.note) ? '---|' : ''}`);
    for (const r of results) {
      const b = r.baseline;
      out.push(
        `| ${r.dataset} | ${r.metric} | ${r.value.toFixed(4)} |${withBase ? (b ? ` ${b.name} ${b.value.toFixed(4)} | ${r.value - b.value >= 0 ? '+' : ''}${(r.value - b.value).toFixed(4)} | ${r.pValue !== undefined ? r.pValue.toPrecision(3) : ''} |` : ' | | |') : ''}${results.some((x) => x.note) ? ` ${r.note ?? ''} |` : ''}`,
      );
    }
    out.push('');
  }

  out.push('## Usage', '', '### rankdistill (TypeScript, Node.js)', '', '```ts', fill(desc.rankdistill), '```', '');
  for (const p of desc.python ?? []) {
    out.push(`### ${p.title}`, '', '```python', fill(p.code), '```', '');
    if (p.note) out.push(p.note, '');
  }
  if (desc.pythonNote) out.push(desc.pythonNote, '');
  if (desc.references?.length) out.push('## References', '', ...desc.references.map((r) => `- ${r}`), '');
  out.push(`_This card was written by rankdistill ${libraryVersion()} when the model was saved; it states only what the run recorded._`, '');
  return out.join('\n');
}

/** Writes `dir`/README.md. */
export function writeModelCard(dir: string, desc: ModelDescription, data: ModelCardData = {}): string {
  const file = path.join(dir, 'README.md');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, renderModelCard(dir, desc, data));
  return file;
}
