// RRA-GPT training data from the Reason-to-Rank teacher records: the teacher's permutation gives the
// list labels, and its written explanation gives one reason per passage ("[2] is the most relevant
// as …", "- Passage [4] …", "1. [3]: …"). Reasons are keyed by (query, passage text).
import { ReasonMap } from '../models/rra-gpt/reasons.js';
import { readReason2Rank, type Reason2RankRecord } from './reason2rank.js';
import type { BadRecord } from './records.js';
import { listsFromPermutations, reciprocalRank, type RankTransform, type TrainingList } from './lists.js';

/**
 * Splits a teacher's answer into one reason per passage (0-based index → text, null when the answer
 * says nothing about it). A line counts for passage k when `[k]` appears in its first 24 characters
 * (after list markers); the permutation line (`[1] > [4] > …`) is skipped; the first line about a
 * passage wins. The leading marker ("- Passage [k]:", "2. [k]:") is removed.
 */
export function passageReasons(reason: string, n: number): Array<string | null> {
  const out: Array<string | null> = new Array(n).fill(null);
  for (const raw of reason.split('\n')) {
    const line = raw.trim();
    if (!line || /\]\s*>\s*\[/.test(line)) continue;
    const m = /^(?:[-*•]\s*|\d+[.)]\s*)?(?:(?:passage|document|doc)\s*)?\[(\d+)\]\s*[:\-–]?\s*/i.exec(line);
    if (!m || m.index > 24) continue;
    const k = Number(m[1]) - 1;
    if (k < 0 || k >= n || out[k] !== null) continue;
    const text = line.slice(m[0].length).trim();
    if (text.length >= 8) out[k] = text;
  }
  return out;
}

export interface RraGptData {
  lists: TrainingList[];
  reasons: ReasonMap;
  /** Records skipped (invalid permutations and other malformed lines), with file, line and field. */
  bad: BadRecord[];
  /** Passages that got a reason / all passages. */
  coverage: { withReason: number; passages: number };
}

/** Lists (labels from the teacher permutation, default 1/(rank+1)) and per-passage reasons from records. */
export function rraGptDataFromRecords(records: Reason2RankRecord[], opts: { transform?: RankTransform; qidPrefix?: string } = {}): Omit<RraGptData, 'bad'> {
  const reasons = new ReasonMap();
  let withReason = 0;
  let passages = 0;
  for (const r of records) {
    const per = r.reason ? passageReasons(r.reason, r.docs.length) : r.docs.map(() => null);
    r.docs.forEach((d, i) => {
      passages += 1;
      if (per[i]) {
        reasons.set(r.query, d, per[i]!);
        withReason += 1;
      }
    });
  }
  const lists = listsFromPermutations(records, { transform: opts.transform ?? reciprocalRank, qidPrefix: opts.qidPrefix });
  return { lists, reasons, coverage: { withReason, passages } };
}

/** Reads Reason-to-Rank JSONL files; malformed records are collected in `bad`, not fatal. */
export async function readRraGptData(files: string[], opts: { transform?: RankTransform; limit?: number } = {}): Promise<RraGptData> {
  const bad: BadRecord[] = [];
  const records: Reason2RankRecord[] = [];
  for (const f of files) {
    const r = await readReason2Rank(f, { onError: 'collect', bad });
    records.push(...r.records);
    if (opts.limit !== undefined && records.length >= opts.limit) break;
  }
  const use = opts.limit !== undefined ? records.slice(0, opts.limit) : records;
  return { ...rraGptDataFromRecords(use, { transform: opts.transform, qidPrefix: 'r2r' }), bad };
}
