import { expect } from 'chai';
import fs from 'node:fs';
import { TextTokenizer } from '../../src/tokenization/tokenizer.js';
import { dataPath } from '../helpers.js';

interface Ref {
  single: Array<{ text: string; tokens: string[]; input_ids: number[]; token_type_ids: number[] }>;
  pairs: Array<{ text: string; text_pair: string; max_length: number | null; truncation: string | null; tokens: string[]; input_ids: number[]; token_type_ids: number[] }>;
}

const ref = JSON.parse(fs.readFileSync(dataPath('hf-fixtures', 'bert-tiny-random', 'reference-tokenization.json'), 'utf8')) as Ref;
const tokDir = dataPath('ms-marco-TinyBERT-L-2-v2-tokenizer-config');

for (const [kind, make] of [
  ['vocab.txt', () => TextTokenizer.fromDir(tokDir)],
  ['tokenizer.json', () => TextTokenizer.fromFile(`${tokDir}/tokenizer.all-MiniLM-L6-v2.json`)],
] as const) {
  describe(`BERT tokenizer built from ${kind}`, () => {
    const tok = make();

    it(`reproduces all ${ref.single.length} single-text reference tokenizations`, async () => {
      for (const c of ref.single) {
        const e = await tok.encode(c.text);
        expect(e.ids, JSON.stringify(c.text)).to.deep.equal(c.input_ids);
        expect(e.typeIds).to.deep.equal(c.token_type_ids);
        expect(e.tokens.slice(1, -1)).to.deep.equal(c.tokens);
      }
    });

    it(`reproduces all ${ref.pairs.length} pair tokenizations, truncation included`, async () => {
      for (const c of ref.pairs) {
        const b = await tok.encodePairs([[c.text, c.text_pair]], { maxLength: c.max_length ?? 512 });
        expect(Array.from(b.inputIds.subarray(0, b.lengths[0])), c.text).to.deep.equal(c.input_ids);
        expect(Array.from(b.tokenTypeIds.subarray(0, b.lengths[0]))).to.deep.equal(c.token_type_ids);
        expect(b.tokens[0]).to.deep.equal(c.tokens);
      }
    });

    it('pads a batch to its longest row with [PAD] and a 0 attention mask', async () => {
      const pairs = ref.pairs.slice(0, 4).map((c) => [c.text, c.text_pair] as [string, string]);
      const b = await tok.encodePairs(pairs, { maxLength: 512 });
      expect(b.seqLen).to.equal(Math.max(...b.lengths));
      for (let r = 0; r < b.batch; r++) {
        for (let j = 0; j < b.seqLen; j++) {
          const inside = j < b.lengths[r];
          expect(b.attentionMask[r * b.seqLen + j]).to.equal(inside ? 1 : 0);
          if (!inside) expect(b.inputIds[r * b.seqLen + j]).to.equal(0);
        }
      }
    });

    it('truncates the document, not the query, when the document is long', async () => {
      const q = 'what is the boiling point of water';
      const d = 'water '.repeat(300);
      const b = await tok.encodePairs([[q, d]], { maxLength: 32 });
      expect(b.lengths[0]).to.equal(32);
      expect(b.tokens[0].slice(0, 9)).to.deep.equal(['[CLS]', 'what', 'is', 'the', 'boiling', 'point', 'of', 'water', '[SEP]']);
      expect(b.tokens[0][31]).to.equal('[SEP]');
    });
  });
}

describe('tokenizer loading errors', () => {
  it('names the directory when no tokenizer files are there', () => {
    expect(() => TextTokenizer.fromDir(dataPath('hf-fixtures', 'bert-tiny-random'))).to.throw(/bert-tiny-random.*no tokenizer.json or vocab.txt/);
  });
});
