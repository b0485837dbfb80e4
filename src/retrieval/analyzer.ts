// The English analyzer of Anserini's MS MARCO indexes (Lucene's EnglishAnalyzer chain): tokenize,
// drop English possessives, lower-case, remove Lucene's English stop words, Porter-stem.
import { stemmer } from 'stemmer';

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (the 33 words Anserini uses by default). */
export const LUCENE_ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not',
  'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was',
  'will', 'with',
]);

export type Analyzer = (text: string) => string[];

// An approximation of Lucene's StandardTokenizer (UAX #29 word breaks): runs of letters, decimal
// digits and underscores, joined across an inner apostrophe, dot, colon or middle dot between two
// letters ("don't", "u.s.a") and across a dot, comma or semicolon between two digits ("3.5", "1,000");
// a dot between a letter and a digit splits ("hypertrophy.3" → "hypertrophy", "3"). Other numbers
// (½, ², ¾) are not word characters, and runs without a letter or digit ("____") are dropped.
const WORD = '[\\p{L}\\p{M}\\p{Nd}_]';
const TOKEN = new RegExp(
  `${WORD}+(?:(?:(?<=\\p{L}\\p{M}*)['\\u2018\\u2019\\u2024.:\\u00b7](?=\\p{L})|(?<=\\p{Nd})['\\u2018\\u2019\\u2024.,;](?=\\p{Nd}))${WORD}+)*`,
  'gu',
);
const HAS_ALNUM = /[\p{L}\p{Nd}]/u;

export function tokenize(text: string): string[] {
  return (text.match(TOKEN) ?? []).filter((t) => HAS_ALNUM.test(t));
}

export interface EnglishAnalyzerOptions {
  /** Stop words (default Lucene's English set); pass an empty set to keep every token. */
  stopWords?: ReadonlySet<string>;
  /** Porter stemming (default true). */
  stem?: boolean;
}

/** Builds the analyzer: tokens → possessive removal → lower case → stop words → Porter stems. */
export function englishAnalyzer(opts: EnglishAnalyzerOptions = {}): Analyzer {
  const stop = opts.stopWords ?? LUCENE_ENGLISH_STOP_WORDS;
  const stem = opts.stem ?? true;
  const cache = new Map<string, string>();
  return (text: string) => {
    const out: string[] = [];
    for (const raw of tokenize(text)) {
      // EnglishPossessiveFilter: strips a trailing 's / ’s.
      let t = raw.replace(/['\u2019][sS]$/, '').toLowerCase();
      if (!t || stop.has(t)) continue;
      if (stem) {
        let s = cache.get(t);
        if (s === undefined) {
          s = stemmer(t);
          cache.set(t, s);
        }
        t = s;
      }
      out.push(t);
    }
    return out;
  };
}
