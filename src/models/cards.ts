// What each ranker tells its model card about itself (architecture, scoring, how to load it in
// rankdistill and in Python). The card writer is models/common/model-card.ts; each ranker's save()
// calls it with one of these.
import type { CrossEncoder } from './cross-encoder.js';
import type { LateInteractionRanker } from './late-interaction.js';
import type { ModelDescription } from './common/model-card.js';
import type { RraBert } from './rra-bert/model.js';
import type { RraGpt } from './rra-gpt/ranker.js';
import type { T5Ranker } from './t5/rankers.js';

const QUERY = 'how do cats purr';
const PASSAGES = ['Cats purr by vibrating the muscles of their larynx.', 'Dogs bark to warn their owners.'];
const REF = {
  rradistill: 'Choi et al., "RRADistill: Distilling LLMs’ Passage Ranking Ability for Long-Tail Queries Document Re-Ranking on a Search Engine", EMNLP 2024 Industry Track',
  twolar: 'Baldelli et al., "TWOLAR: a TWO-step LLM-Augmented distillation method for passage Reranking", ECIR 2024',
  monot5: 'Nogueira et al., "Document Ranking with a Pretrained Sequence-to-Sequence Model", Findings of EMNLP 2020',
  rankt5: 'Zhuang et al., "RankT5: Fine-Tuning T5 for Text Ranking with Ranking Losses", SIGIR 2023',
};

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function bertFacts(m: CrossEncoder): Array<[string, string]> {
  const c = m.config;
  return [
    ['architecture', `BERT cross-encoder (\`BertForSequenceClassification\`): hidden ${c.hidden_size}, ${plural(c.num_hidden_layers, 'layer')}, ${plural(c.num_attention_heads, 'attention head')}, FFN ${c.intermediate_size}`],
    ['input', '`[CLS] query [SEP] passage [SEP]`'],
    ['score', c.num_labels === 1 ? 'the classifier logit' : `log P(relevant): log-softmax of the ${c.num_labels} class logits, class 1`],
  ];
}

function bertPython(m: CrossEncoder): ModelDescription['python'] {
  const pairs = PASSAGES.map((p) => `("${QUERY}", "${p}")`).join(', ');
  const hf = {
    title: 'transformers',
    code: [
      'import torch',
      'from transformers import AutoModelForSequenceClassification, AutoTokenizer',
      '',
      'tokenizer = AutoTokenizer.from_pretrained("{dir}")',
      'model = AutoModelForSequenceClassification.from_pretrained("{dir}").eval()',
      `queries, passages = ["${QUERY}"] * 2, ${JSON.stringify(PASSAGES)}`,
      `features = tokenizer(queries, passages, padding=True, truncation="longest_first", max_length=${m.maxLength}, return_tensors="pt")`,
      'with torch.no_grad():',
      '    logits = model(**features).logits',
      m.config.num_labels === 1 ? 'scores = logits[:, 0]' : 'scores = torch.log_softmax(logits, -1)[:, 1]',
      'print(scores.tolist())',
    ].join('\n'),
  };
  if (m.config.num_labels !== 1) return [hf];
  return [
    {
      title: 'sentence-transformers',
      code: [
        'import torch',
        'from sentence_transformers import CrossEncoder',
        '',
        '# Identity: the raw logit, the score rankdistill gives (the default would apply a sigmoid).',
        `model = CrossEncoder("{dir}", max_length=${m.maxLength}, activation_fn=torch.nn.Identity())`,
        `scores = model.predict([${pairs}])`,
        'print(scores.tolist())',
      ].join('\n'),
    },
    hf,
  ];
}

const tsRank = (cls: string, load: string) =>
  [
    `import { initBackend, ${cls} } from 'rankdistill';`,
    '',
    'await initBackend();',
    `const model = ${load};`,
    `const ranked = await model.rank(${JSON.stringify(QUERY)}, ${JSON.stringify(PASSAGES)});`,
    'console.log(ranked); // [{ index, doc, score }, …] best first',
  ].join('\n');

export function crossEncoderCard(m: CrossEncoder): ModelDescription {
  const card: ModelDescription = {
    title: 'BERT cross-encoder re-ranker',
    facts: bertFacts(m),
    parameters: m.bert.params.size,
    maxLength: m.maxLength,
    tags: ['cross-encoder', 'reranker', 'text-ranking', 'bert', 'sentence-transformers'],
    pipelineTag: 'text-ranking',
    rankdistill: tsRank('CrossEncoder', "await CrossEncoder.fromPretrained('{dir}')"),
    python: bertPython(m),
  };
  if (m.pooling !== 'mean') return card;
  // transformers' BertForSequenceClassification reads the [CLS] pooler: it would load these weights and score differently.
  return {
    ...card,
    facts: [...card.facts, ['head input', 'the mean of the last token states over the attention mask (`rankdistill.pooling: "mean"` in config.json)']],
    python: undefined,
    pythonNote:
      'The classifier reads mean-pooled token states, not the [CLS] pooler that transformers and sentence-transformers use: they would load the weights but score differently. Score with rankdistill.',
  };
}

export function rraBertCard(m: RraBert): ModelDescription {
  const base = crossEncoderCard(m.encoder);
  return {
    ...base,
    title: 'RRA-BERT re-ranker (RRADistill)',
    facts: [
      ...base.facts,
      [
        'training only',
        `RRADistill's token selection (document tokens whose cosine similarity to a query token is ≥ ${m.rra.selection.threshold ?? 'off'}${m.rra.selection.exactMatch ? ', exact matches' : ''}${m.rra.selection.topK ? `, top ${m.rra.selection.topK} per query token` : ''}) and term control layer (${m.rra.pooling} pooling, λ = ${m.rra.lambda}), in rra_tcl.safetensors and rra_config.json; scoring uses the cross-encoder alone`,
      ],
    ],
    parameters: m.encoder.bert.params.size + m.tcl.params.size,
    tags: [...base.tags, 'rradistill'],
    rankdistill: [
      "import { initBackend, RraBert } from 'rankdistill';",
      '',
      'await initBackend();',
      "const model = await RraBert.fromPretrained('{dir}');",
      `const scores = await model.score(${JSON.stringify(PASSAGES.map((p) => [QUERY, p]))});`,
    ].join('\n'),
    references: [REF.rradistill],
  };
}

const T5_NAMES: Record<string, string> = { monot5: 'monoT5', rankt5: 'RankT5', 'rankt5-encoder': 'RankT5 (encoder-only)', twolar: 'TWOLAR' };

export function t5Card(r: T5Ranker): ModelDescription {
  const c = r.model.config;
  const head = r.head;
  const trueTok = r.opts.trueToken ?? '▁true';
  const falseTok = r.opts.falseToken ?? '▁false';
  const rankTok = r.opts.rankToken ?? '<extra_id_10>';
  const template = head === 'monot5' || head === 'twolar' ? 'Query: {query} Document: {passage} Relevant:' : 'Query: {query} Document: {passage}';
  const score =
    head === 'monot5'
      ? `${r.opts.monoT5Score === 'prob' ? 'P' : 'log P'}(${trueTok}) over {${trueTok}, ${falseTok}} at the first decoder step`
      : head === 'twolar'
        ? `z(${trueTok}) − z(${falseTok}): the difference of the two logits at the first decoder step`
        : head === 'rankt5'
          ? `the logit of ${rankTok} at the first decoder step`
          : `a dense layer on the encoder's ${r.opts.pooling ?? 'first'}-token state (score_head.dense)`;
  const pyScore =
    head === 'monot5'
      ? [`t, f = tokenizer.convert_tokens_to_ids(["${trueTok}", "${falseTok}"])`, `scores = torch.log_softmax(logits[:, [t, f]], -1)[:, 0]${r.opts.monoT5Score === 'prob' ? '.exp()' : ''}`]
      : head === 'twolar'
        ? [`t, f = tokenizer.convert_tokens_to_ids(["${trueTok}", "${falseTok}"])`, 'scores = logits[:, t] - logits[:, f]']
        : [`scores = logits[:, tokenizer.convert_tokens_to_ids("${rankTok}")]`];
  const python: ModelDescription['python'] =
    head === 'rankt5-encoder'
      ? undefined
      : [
          {
            title: 'transformers',
            code: [
              'import torch',
              'from transformers import AutoTokenizer, T5ForConditionalGeneration',
              '',
              'tokenizer = AutoTokenizer.from_pretrained("{dir}")',
              'model = T5ForConditionalGeneration.from_pretrained("{dir}").eval()',
              `query, passages = "${QUERY}", ${JSON.stringify(PASSAGES)}`,
              `inputs = tokenizer([f"${template.replace('{passage}', '{p}')}" for p in passages], padding=True, return_tensors="pt")`,
              'start = torch.full((len(passages), 1), model.config.decoder_start_token_id)',
              'with torch.no_grad():',
              '    logits = model(**inputs, decoder_input_ids=start).logits[:, 0]',
              ...pyScore,
              'print(scores.tolist())',
            ].join('\n'),
            note: `rankdistill cuts a long passage (not the template's end) to ${r.maxLength} tokens; do the same for passages that do not fit.`,
          },
        ];
  return {
    title: `${T5_NAMES[head] ?? head} re-ranker (T5)`,
    facts: [
      ['architecture', `T5 encoder-decoder: d_model ${c.d_model}, ${c.num_layers} encoder / ${plural(c.num_decoder_layers, 'decoder layer')}, ${plural(c.num_heads, 'head')}, FFN ${c.d_ff}`],
      ['head', `${T5_NAMES[head] ?? head} (saved under \`rankdistill\` in config.json)`],
      ['input', `\`${template}\``],
      ['score', score],
    ],
    parameters: r.model.params.size,
    maxLength: r.maxLength,
    tags: ['t5', 'reranker', 'text-ranking', head],
    pipelineTag: 'text-ranking',
    rankdistill: tsRank('T5Ranker', "await T5Ranker.fromPretrained('{dir}')"),
    python,
    pythonNote: head === 'rankt5-encoder' ? "transformers' T5EncoderModel loads the encoder, but the score head (score_head.dense.*) is applied by rankdistill only." : undefined,
    references: head === 'twolar' ? [REF.twolar] : head === 'monot5' ? [REF.monot5] : [REF.rankt5],
  };
}

export function rraGptCard(m: RraGpt): ModelDescription {
  const c = m.llama.config;
  return {
    title: 'RRA-GPT re-ranker (RRADistill)',
    facts: [
      ['architecture', `${c.model_type ?? 'llama'} decoder: hidden ${c.hidden_size}, ${plural(c.num_hidden_layers, 'layer')}, ${plural(c.num_attention_heads, 'attention head')} (${c.num_key_value_heads} key/value), FFN ${c.intermediate_size}`],
      ['score', 'a ranking layer (rank_head.*) on the last prompt token’s hidden state'],
      ['training', `ranking loss + α = ${m.alpha} × label-token loss + β = ${m.beta} × teacher-reason generation loss`],
    ],
    parameters: m.llama.params.size + m.head.size,
    maxLength: m.maxPromptLength,
    tags: ['llama', 'reranker', 'text-ranking', 'rradistill'],
    pipelineTag: 'text-ranking',
    rankdistill: tsRank('RraGpt', "await RraGpt.fromPretrained('{dir}')"),
    pythonNote:
      "transformers' LlamaForCausalLM loads the language model from config.json and model.safetensors (it ignores the rank_head.* tensors), but the relevance score comes from RRA-GPT's ranking layer and prompt template (rra_gpt.json), which only rankdistill applies.",
    references: [REF.rradistill],
  };
}

export function lateInteractionCard(m: LateInteractionRanker): ModelDescription {
  const c = m.encoder.config;
  const head = m.featureNames.map((f, i) => `${Number(m.weights[i].toPrecision(4))}·${f}`).join(' + ');
  return {
    title: 'Late-interaction re-ranker (bi-encoder cosine + MaxSim head)',
    facts: [
      ['encoder', `BERT bi-encoder (sentence-transformers folder): hidden ${c.hidden_size}, ${plural(c.num_hidden_layers, 'layer')}, ${m.encoder.pooling.join('+')} pooling`],
      ['input', 'query and passage encoded separately'],
      ['score', `${head} (cosine: of the pooled vectors; maxsim: ColBERT's MaxSim over the token states, mean over query tokens; weights in late_interaction.json)`],
      ['trained', m.trainEncoder ? 'the encoder and the head' : 'the head only (the encoder is the checkpoint, unchanged)'],
    ],
    parameters: m.encoder.bert.params.size + m.features.length,
    maxLength: m.encoder.maxSeqLength,
    tags: ['reranker', 'text-ranking', 'late-interaction', 'sentence-transformers'],
    pipelineTag: 'text-ranking',
    rankdistill: tsRank('LateInteractionRanker', "await LateInteractionRanker.fromPretrained('{dir}')"),
    pythonNote:
      'sentence-transformers loads this folder as the bi-encoder it contains (cosine similarity only, without the learned MaxSim head in late_interaction.json). Score with rankdistill for the trained ranker.',
    references: ['Khattab and Zaharia, "ColBERT: Efficient and Effective Passage Search via Contextualized Late Interaction over BERT", SIGIR 2020'],
  };
}
