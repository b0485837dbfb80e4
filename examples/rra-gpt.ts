// RRA-GPT (RRADistill): train a small Llama-style decoder from scratch on the Reason-to-Rank teacher
// data with the joint objective (list ranking loss on the ranking layer + answer-token CE + the
// teacher's reason tokens), rerank DL20's BM25 candidates from the prompt forward pass alone, generate
// an explanation for one pair, and save an HF checkpoint (LlamaForCausalLM + the ranking layer).
// Run: npx tsx examples/rra-gpt.ts   (RRA_GPT_STEPS, RRA_GPT_EVAL_TOP, RRA_GPT_OUT change sizes/output)
// Data: $RANKDISTILL_DATA (default ../shared/data). Tokenizer: the BERT uncased WordPiece files.
import fs from 'node:fs';
import path from 'node:path';
import { initBackend, readBm25Json, readQrels, evaluateReranking, RraGpt, Trainer } from 'rankdistill';
import { readRraGptData } from 'rankdistill/data';
import { TextTokenizer } from 'rankdistill/tokenization';

const steps = Number(process.env.RRA_GPT_STEPS ?? 100);
const evalTop = Number(process.env.RRA_GPT_EVAL_TOP ?? 20);
const outDir = process.env.RRA_GPT_OUT ?? 'runs/rra-gpt';
const dataDir = path.resolve(process.env.RANKDISTILL_DATA ?? path.join('..', 'shared', 'data'));
const data = (...p: string[]) => path.join(dataDir, ...p);

const info = await initBackend();
console.log(`backend ${info.backend}`);

// Teacher data: GPT-3.5 permutations of 5 MS MARCO passages per group, with its written reasons.
const trainDir = data('reason2rank-llm-listwise-teacher', 'gpt-3.5', 'msmarco-train');
const files = fs.readdirSync(trainDir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(trainDir, f));
const train = await readRraGptData(files);
console.log(`${train.lists.length} teacher lists, ${train.bad.length} bad records skipped (e.g. ${train.bad[0]?.file}:${train.bad[0]?.line}: ${train.bad[0]?.message})`);
const l0 = train.lists[0];
console.log(`a reason: "${train.reasons.get(l0.query, l0.docs[0])}"`);

// A ~3M-parameter decoder (most of it the 30k-token embedding, tied with the LM head).
const tokenizer = TextTokenizer.fromDir(data('ms-marco-TinyBERT-L-2-v2-tokenizer-config'));
const model = new RraGpt(
  {
    vocab_size: tokenizer.vocabSize,
    hidden_size: 96,
    intermediate_size: 256,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 176,
    tie_word_embeddings: true,
    bos_token_id: tokenizer.tokenToId('[CLS]') ?? null,
    eos_token_id: tokenizer.tokenToId('[SEP]') ?? null,
    pad_token_id: tokenizer.padId,
  },
  {
    tokenizer,
    reasons: train.reasons,
    alpha: 1,
    beta: 1,
    maxPromptLength: 128,
    maxReasonTokens: 24,
    // No passage is "missing" in these groups: the teacher's top 2 of 5 count as relevant.
    isRelevant: (label) => label >= 0.5,
    seed: 1,
  },
);

const trainer = new Trainer(model, { loss: 'ranknet', listSize: 5, listsPerBatch: 4, maxSteps: steps, epochs: 100, lr: 2e-3, warmupRatio: 0.1, outputDir: outDir });
const res = await trainer.train(train.lists);
trainer.dispose();
console.log(`trained ${res.steps} steps in ${res.seconds.toFixed(0)} s; loss ${res.losses[0].toFixed(3)} → ${res.losses.at(-1)!.toFixed(3)} (components in ${outDir}/log.jsonl)`);

// Rerank DL20 (prompt forward pass + ranking layer only).
const qrels = await readQrels(data('trec-dl-2020-passage', 'qrels.txt'));
const dl20 = (await readBm25Json(data('trec-dl-2020-passage', 'bm25-top100.json'))).filter((c) => qrels.has(c.qid));
const ev = await evaluateReranking((pairs) => model.score(pairs, { batchSize: 64 }), { lists: dl20, qrels }, { topK: evalTop, calls: 'set', baseline: 'first-stage' });
const vs = ev.baseline!.comparison.ndcg_cut_10;
console.log(`DL20 nDCG@10 (top ${evalTop} reranked): RRA-GPT ${ev.aggregate.ndcg_cut_10.toFixed(4)}, BM25 ${ev.baseline!.aggregate.ndcg_cut_10.toFixed(4)} (paired t-test p = ${vs.tTestP.toPrecision(3)})`);

// Why? Generate the answer and the reason for the top BM25 passage of the first query.
const ex = await model.explain(dl20[0].query, dl20[0].hits[0].text);
console.log(`query: ${dl20[0].query}\nanswer: ${ex.answer}  score ${ex.score.toFixed(3)}\nreason: ${ex.reason}`);
console.log(`model saved in ${outDir}/final (config.json + model.safetensors loadable as LlamaForCausalLM; rank_head.* is the ranking layer)`);
model.dispose();
