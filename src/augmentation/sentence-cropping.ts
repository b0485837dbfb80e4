// Query augmentation by sentence cropping (TWOLAR §3): a sentence, or a span of words inside one,
// cut from a passage becomes a pseudo-query for it. Seeded per passage, so the crops of a passage do
// not depend on the order passages are processed in. (our design: lengths and the sentence/span mix)
import { split } from 'sentence-splitter';
import { SeededRandom } from '../utils/random.js';

/** Makes pseudo-queries from a passage. docT5query (the T5 generator) implements it too. */
export interface QueryGenerator {
  /** Short name written into augmented-query records ("crop", "doct5query"). */
  readonly name: string;
  /** Up to `n` distinct queries for the passage (fewer when it cannot give n). */
  generate(passage: string, n: number): Promise<string[]>;
}

export interface SentenceCropOptions {
  /** 'sentence': a whole sentence; 'span': a run of words inside a sentence; 'mixed' (default): either, evenly. */
  mode?: 'sentence' | 'span' | 'mixed';
  /** Fewest words in a crop (default 3). */
  minWords?: number;
  /** Most words in a span crop (default 16); longer sentences are cropped to a span in 'sentence' mode too. */
  maxWords?: number;
  seed?: number;
}

/** The sentences of a text (sentence-splitter), whitespace-normalised. */
export function splitSentences(text: string): string[] {
  return split(text)
    .filter((n) => n.type === 'Sentence')
    .map((n) => (n as { raw: string }).raw.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** mulberry32 seeded by (seed, FNV-1a of the passage). */
function passageRandom(seed: number, passage: string): () => number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < passage.length; i++) h = Math.imul(h ^ passage.charCodeAt(i), 0x01000193);
  const rng = new SeededRandom(h >>> 0);
  return () => rng.next();
}

/** Strips punctuation at the ends of a crop ("The cat sat." → "The cat sat"). */
function tidy(words: string[]): string {
  return words.join(' ').replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
}

export class SentenceCropper implements QueryGenerator {
  readonly name = 'crop';
  private readonly mode: 'sentence' | 'span' | 'mixed';
  private readonly minWords: number;
  private readonly maxWords: number;
  private readonly seed: number;

  constructor(opts: SentenceCropOptions = {}) {
    this.mode = opts.mode ?? 'mixed';
    this.minWords = opts.minWords ?? 3;
    this.maxWords = opts.maxWords ?? 16;
    this.seed = opts.seed ?? 0;
    if (!(this.minWords >= 1 && this.maxWords >= this.minWords)) throw new Error(`sentence cropping needs 1 <= minWords <= maxWords, got ${this.minWords} and ${this.maxWords}`);
  }

  /** Synchronous core of `generate`. */
  crops(passage: string, n: number): string[] {
    const rand = passageRandom(this.seed, passage);
    const int = (k: number) => Math.floor(rand() * k);
    const sentences = splitSentences(passage)
      .map((s) => s.split(' '))
      .filter((w) => w.length >= this.minWords);
    const out: string[] = [];
    if (!sentences.length || n <= 0) return out;
    const seen = new Set<string>();
    // Bounded tries: a short passage may not have n distinct crops.
    for (let tries = 0; out.length < n && tries < 20 * n; tries++) {
      const words = sentences[int(sentences.length)];
      const wantSpan = this.mode === 'span' || (this.mode === 'mixed' && rand() < 0.5) || words.length > this.maxWords;
      let crop: string[] = words;
      if (wantSpan) {
        const hi = Math.min(this.maxWords, words.length);
        const len = this.minWords + int(hi - this.minWords + 1);
        const start = int(words.length - len + 1);
        crop = words.slice(start, start + len);
      }
      const q = tidy(crop);
      if (q.split(' ').length < this.minWords || seen.has(q.toLowerCase())) continue;
      seen.add(q.toLowerCase());
      out.push(q);
    }
    return out;
  }

  async generate(passage: string, n: number): Promise<string[]> {
    return this.crops(passage, n);
  }
}

export interface AugmentedQuery {
  qid: string;
  query: string;
  /** The passage the query was made from (a known positive for it). */
  sourceDocid: string;
  generator: string;
}

/**
 * Pseudo-queries for passages: `perPassage` from each, ids `${prefix}-${docid}-${i}`, a query text
 * made twice (from any passage) kept once.
 */
export async function augmentQueries(
  passages: Iterable<{ docid: string; text: string }>,
  generator: QueryGenerator,
  opts: { perPassage?: number; prefix?: string } = {},
): Promise<AugmentedQuery[]> {
  const out: AugmentedQuery[] = [];
  const seen = new Set<string>();
  for (const p of passages) {
    const qs = await generator.generate(p.text, opts.perPassage ?? 1);
    qs.forEach((query, i) => {
      const key = query.toLowerCase();
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ qid: `${opts.prefix ?? generator.name}-${p.docid}-${i}`, query, sourceDocid: p.docid, generator: generator.name });
    });
  }
  return out;
}
