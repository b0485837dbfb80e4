// Sentence cropping: crops are sentences or word spans of the passage, seeded, distinct, bounded.
import { expect } from 'chai';
import fc from 'fast-check';
import { SentenceCropper, augmentQueries, splitSentences, type QueryGenerator } from '../../src/augmentation/index.js';

const PASSAGE =
  'The Treaty of Versailles was signed in the Hall of Mirrors. It ended the state of war between Germany and the Allied Powers. ' +
  'Dr. Smith wrote about it in the U.S. press! Was it fair? Many historians still debate its harsh terms today.';

describe('augmentation/sentence cropping', () => {
  it('splits sentences with sentence-splitter (abbreviations kept inside)', () => {
    expect(splitSentences(PASSAGE)).to.deep.equal([
      'The Treaty of Versailles was signed in the Hall of Mirrors.',
      'It ended the state of war between Germany and the Allied Powers.',
      'Dr. Smith wrote about it in the U.S. press!',
      'Was it fair?',
      'Many historians still debate its harsh terms today.',
    ]);
  });

  it("sentence mode gives whole sentences (end punctuation stripped) of at least minWords", async () => {
    const qs = await new SentenceCropper({ mode: 'sentence', seed: 1 }).generate(PASSAGE, 10);
    const whole = splitSentences(PASSAGE).map((s) => s.replace(/[.!?]+$/, ''));
    // "Was it fair?" has 3 words: allowed; every sentence is ≤ 16 words, so none is cut.
    expect(new Set(qs)).to.deep.equal(new Set(whole));
    expect(qs).to.have.length(5);
  });

  it('span mode gives contiguous word runs of one sentence, within the length bounds', async () => {
    const c = new SentenceCropper({ mode: 'span', minWords: 2, maxWords: 4, seed: 7 });
    const qs = await c.generate(PASSAGE, 12);
    expect(qs.length).to.be.within(6, 12);
    const sentences = splitSentences(PASSAGE);
    for (const q of qs) {
      const n = q.split(' ').length;
      expect(n, q).to.be.within(2, 4);
      expect(sentences.some((s) => s.includes(q)), q).to.equal(true);
    }
    expect(new Set(qs.map((q) => q.toLowerCase())).size).to.equal(qs.length);
  });

  it('is deterministic per (seed, passage), independent of call order; seeds differ', async () => {
    const a = new SentenceCropper({ seed: 3 });
    const first = await a.generate(PASSAGE, 4);
    await a.generate('Another passage entirely. With two sentences here.', 3);
    expect(await a.generate(PASSAGE, 4)).to.deep.equal(first);
    expect(await new SentenceCropper({ seed: 3 }).generate(PASSAGE, 4)).to.deep.equal(first);
    const others = await Promise.all([4, 5, 6].map((s) => new SentenceCropper({ seed: s }).generate(PASSAGE, 4)));
    expect(others.some((o) => JSON.stringify(o) !== JSON.stringify(first))).to.equal(true);
  });

  it('property: any text gives ≤ n distinct crops made of its words', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[A-Za-z]{1,6}[.?!]?$/), { maxLength: 40 }), fc.integer({ min: 0, max: 6 }), fc.integer(), (words, n, seed) => {
        const text = words.join(' ');
        const qs = new SentenceCropper({ seed }).crops(text, n);
        expect(qs.length).to.be.at.most(n);
        expect(new Set(qs.map((q) => q.toLowerCase())).size).to.equal(qs.length);
        const vocab = new Set(words.map((w) => w.replace(/[.?!]$/, '')));
        for (const q of qs) for (const w of q.split(' ')) expect(vocab.has(w.replace(/[.?!]$/, '')), `${w} in ${q}`).to.equal(true);
      }),
      { numRuns: 200 },
    );
  });

  it('augmentQueries names queries by passage, drops repeated texts, takes any generator', async () => {
    const echo: QueryGenerator = { name: 'echo', generate: async (p, n) => Array.from({ length: n }, (_, i) => `${p.split(' ')[0]} ${i}`) };
    const qs = await augmentQueries(
      [
        { docid: 'd1', text: 'alpha beta' },
        { docid: 'd2', text: 'alpha gamma' },
        { docid: 'd3', text: 'delta' },
      ],
      echo,
      { perPassage: 2 },
    );
    expect(qs).to.deep.equal([
      { qid: 'echo-d1-0', query: 'alpha 0', sourceDocid: 'd1', generator: 'echo' },
      { qid: 'echo-d1-1', query: 'alpha 1', sourceDocid: 'd1', generator: 'echo' },
      { qid: 'echo-d3-0', query: 'delta 0', sourceDocid: 'd3', generator: 'echo' },
      { qid: 'echo-d3-1', query: 'delta 1', sourceDocid: 'd3', generator: 'echo' },
    ]);
    expect(() => new SentenceCropper({ minWords: 5, maxWords: 2 })).to.throw(/minWords/);
  });
});
