// RankGPT's list-wise permutation prompt and a robust parser for its `[i] > [j] > ...` answers
// (RankGPT, Sun et al., EMNLP 2023; prompt wording from sunnweiwei/RankGPT `rank_gpt.py`, as rank_llm keeps it).
import { createHash } from 'node:crypto';
import type { ChatMessage } from './llm-client.js';

/** The first `maxWords` whitespace-separated words (RankGPT cuts passages to 300). */
export function truncateWords(text: string, maxWords = 300): string {
  const words = text.trim().split(/\s+/).filter(Boolean);
  return words.length <= maxWords ? words.join(' ') : words.slice(0, maxWords).join(' ');
}

export interface PromptOptions {
  /** Words kept per passage (default 300). */
  maxWords?: number;
}

/**
 * Messages asking to rank `passages` (numbered [1]..[n], in the given order) for `query`:
 * RankGPT's multi-turn prompt, each passage in its own user turn acknowledged by the assistant.
 */
export function buildRankingMessages(query: string, passages: readonly string[], opts: PromptOptions = {}): ChatMessage[] {
  const n = passages.length;
  const messages: ChatMessage[] = [
    { role: 'system', content: 'You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query.' },
    { role: 'user', content: `I will provide you with ${n} passages, each indicated by number identifier []. \nRank the passages based on their relevance to query: ${query}.` },
    { role: 'assistant', content: 'Okay, please provide the passages.' },
  ];
  passages.forEach((p, i) => {
    messages.push({ role: 'user', content: `[${i + 1}] ${truncateWords(p, opts.maxWords ?? 300)}` });
    messages.push({ role: 'assistant', content: `Received passage [${i + 1}].` });
  });
  messages.push({ role: 'user', content: rankingInstruction(query, n) });
  return messages;
}

export function rankingInstruction(query: string, n: number): string {
  return (
    `Search Query: ${query}. \nRank the ${n} passages above based on their relevance to the search query. ` +
    'The passages should be listed in descending order using identifiers. The most relevant passages should be listed first. ' +
    'The output format should be [] > [], e.g., [1] > [2]. Only response the ranking results, do not say any word or explain.'
  );
}

/**
 * Messages asking why a ranking was produced (RRADistill's second call, for RRA-GPT): the passages as
 * in the ranking prompt, then the ranking, then a request for one short reason per passage as JSON.
 */
export function buildReasonMessages(query: string, passages: readonly string[], ranking: readonly number[], opts: PromptOptions = {}): ChatMessage[] {
  const messages = buildRankingMessages(query, passages, opts);
  messages.push({ role: 'assistant', content: formatRanking(ranking) });
  messages.push({
    role: 'user',
    content:
      'For each passage in your ranking, explain in one sentence why it is placed there relative to the query. ' +
      'Answer only with a JSON object mapping each identifier to its reason, e.g. {"[1]": "...", "[2]": "..."}.',
  });
  return messages;
}

/** 0-based ids → `[i+1] > [j+1] > ...`. */
export function formatRanking(ids: readonly number[]): string {
  return ids.map((i) => `[${i + 1}]`).join(' > ');
}

export interface ParsedRanking {
  /** 0-based ids in answer order, without duplicates or out-of-range ids. */
  ranking: number[];
  /** 0-based ids the answer left out, in original order. */
  missing: number[];
  /** 1-based ids as written that were repeated. */
  duplicates: number[];
  /** 1-based ids as written that were outside 1..n. */
  outOfRange: number[];
  /** False when no valid id could be read: the answer is unusable. */
  ok: boolean;
}

/**
 * Reads a permutation answer for n passages. Bracketed ids (`[3]`) are read when the answer has any,
 * so prose numbers ("the 20 passages") are not taken for ids; otherwise every integer, as RankGPT does.
 */
export function parseRanking(answer: string, n: number): ParsedRanking {
  const bracketed = [...answer.matchAll(/\[\s*(-?\d+)\s*\]/g)].map((m) => Number(m[1]));
  const ids = bracketed.length ? bracketed : [...answer.matchAll(/\d+/g)].map((m) => Number(m[0]));
  const seen = new Set<number>();
  const ranking: number[] = [];
  const duplicates: number[] = [];
  const outOfRange: number[] = [];
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 1 || id > n) outOfRange.push(id);
    else if (seen.has(id - 1)) duplicates.push(id);
    else {
      seen.add(id - 1);
      ranking.push(id - 1);
    }
  }
  const missing: number[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(i)) missing.push(i);
  return { ranking, missing, duplicates, outOfRange, ok: ranking.length > 0 };
}

/** Reasons answer → {id (0-based) → reason}; undefined when it is not such a JSON object. */
export function parseReasons(answer: string, n: number): Map<number, string> | undefined {
  const start = answer.indexOf('{');
  const end = answer.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(answer.slice(start, end + 1));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const out = new Map<number, string>();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const m = /^\s*\[?\s*(\d+)\s*\]?\s*$/.exec(k);
    if (!m || typeof v !== 'string') continue;
    const id = Number(m[1]);
    if (id >= 1 && id <= n) out.set(id - 1, v);
  }
  return out.size ? out : undefined;
}

/**
 * A short fingerprint of the prompt wording (ranking and reasons prompts, filled with placeholders),
 * recorded in label manifests: any change to the templates changes it, so labels made with an older
 * wording are never mixed with new ones.
 */
export function promptTemplateVersion(): string {
  const text = JSON.stringify([buildRankingMessages('{query}', ['{passage 1}', '{passage 2}']), buildReasonMessages('{query}', ['{passage 1}', '{passage 2}'], [1, 0])]);
  return `rankgpt-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
}
