// Readers: valid small files (exact parsed values), every kind of malformed line (error names file,
// line and field; collect mode reports instead), and the staged real files (counts from their READMEs).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import {
  readTrecRun,
  readLlmRerankRun,
  writeTrecRun,
  readQrels,
  readQueriesTsv,
  readCorpusTsv,
  readBeirCorpus,
  readBeirQueries,
  readBeirQrels,
  beirDocumentText,
  readBm25Json,
  readReason2Rank,
  trecOrder,
  type BadRecord,
  type RunEntry,
} from '../../src/data/index.js';
import { InputError } from '../../src/utils/errors.js';
import { dataPath, hasData, tmpDir } from '../helpers.js';

const dir = tmpDir('rankdistill-data-');
let n = 0;
function file(content: string, ext = 'txt'): string {
  const f = path.join(dir, `f${n++}.${ext}`);
  fs.writeFileSync(f, content);
  return f;
}

/** Expects `p` to reject with an InputError naming file, line (or element) and field. */
async function expectInputError(p: Promise<unknown>, f: string, line: number | undefined, field: string, msg?: RegExp): Promise<InputError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an InputError').to.be.instanceOf(InputError);
  const e = err as InputError;
  expect(e.location.file).to.equal(f);
  expect(e.location.line).to.equal(line);
  expect(e.location.field).to.equal(field);
  expect(e.message).to.contain(f);
  if (line !== undefined) expect(e.message).to.match(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}(:\\d+)?: `));
  expect(e.message).to.contain(`field '${field}'`);
  if (msg) expect(e.detail).to.match(msg);
  return e;
}

describe('data: TREC runs', () => {
  it('reads a run (tabs and spaces, file order kept, blank lines skipped)', async () => {
    const f = file('q1 Q0 d1 1 2.5 tagA\nq1\tQ0\td2\t2\t-1e-3\ttagA\n\nq2 Q0 d9 1 7 t\n');
    const run = await readTrecRun(f);
    expect([...run.keys()]).to.deep.equal(['q1', 'q2']);
    expect(run.get('q1')).to.deep.equal([
      { qid: 'q1', docid: 'd1', rank: 1, score: 2.5, tag: 'tagA' },
      { qid: 'q1', docid: 'd2', rank: 2, score: -0.001, tag: 'tagA' },
    ]);
    expect(run.get('q2')![0].score).to.equal(7);
  });

  const badRuns: Array<[string, string, number, string, RegExp]> = [
    ['too few columns', 'q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 1.5\n', 2, 'tag', /6 columns/],
    ['too many columns', 'q1 Q0 d1 1 2.5 t extra\n', 1, 'tag', /got 7/],
    ['non-numeric score', 'q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 abc t\n', 2, 'score', /not a number/],
    ['infinite score', 'q1 Q0 d1 1 1e999 t\n', 1, 'score', /finite/],
    ['non-integer rank', 'q1 Q0 d1 1.5 2 t\n', 1, 'rank', /integer/],
    ['duplicate document', 'q1 Q0 d1 1 2 t\nq2 Q0 d1 1 2 t\nq1 Q0 d1 2 1 t\n', 3, 'docid', /twice/],
  ];
  for (const [what, content, line, field, msg] of badRuns) {
    it(`rejects a run line with ${what}, and collects it on request`, async () => {
      const f = file(content);
      await expectInputError(readTrecRun(f), f, line, field, msg);
      const bad: BadRecord[] = [];
      const run = await readTrecRun(f, { onError: 'collect', bad });
      expect(bad).to.have.length(1);
      expect(bad[0]).to.include({ file: f, line, field });
      // the good lines are still read
      const good = content.split('\n').filter((l) => l.trim()).length - 1;
      expect([...run.values()].flat()).to.have.length(good);
    });
  }

  it('reports a missing file as an InputError naming it', async () => {
    const f = path.join(dir, 'nope.run');
    let err: unknown;
    try {
      await readTrecRun(f);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InputError);
    expect((err as InputError).location.file).to.equal(f);
    // a directory fails while streaming: still an InputError naming it
    err = undefined;
    try {
      await readQrels(dir);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InputError);
    expect((err as InputError).message).to.contain(dir);
  });

  it('writes a run that reads back exactly (scores round-trip to the bit)', async () => {
    const entries: RunEntry[] = [
      { qid: 'q1', docid: 'a', rank: 1, score: 0.1 + 0.2, tag: 'x' },
      { qid: 'q1', docid: 'b', rank: 2, score: -1.2345678901234567e-8, tag: 'x' },
      { qid: 'q2', docid: 'c', rank: 1, score: 3, tag: 'x' },
    ];
    const f = path.join(dir, 'w.run');
    await writeTrecRun(f, entries, 'mytag');
    const back = await readTrecRun(f);
    expect([...back.values()].flat()).to.deep.equal(entries.map((e) => ({ ...e, tag: 'mytag' })));
    await writeTrecRun(f, back);
    expect(fs.readFileSync(f, 'utf8').split('\n')[0]).to.equal('q1 Q0 a 1 0.30000000000000004 mytag');
  });

  it('refuses to write ids with whitespace or non-finite scores', async () => {
    const f = path.join(dir, 'bad.run');
    for (const e of [
      { qid: 'q 1', docid: 'a', rank: 1, score: 1, tag: 't' },
      { qid: 'q1', docid: 'a', rank: 1, score: NaN, tag: 't' },
    ]) {
      let err: unknown;
      try {
        await writeTrecRun(f, [e]);
      } catch (x) {
        err = x;
      }
      expect(err).to.be.instanceOf(InputError);
    }
  });

  it('reads LLM re-ranked runs by their rank column (scores become −rank)', async () => {
    const f = file('q1 Q0 a 2 5.0 L\nq1 Q0 b 1 5.0 L\nq1 Q0 c 3 5.0 L\n');
    const run = await readLlmRerankRun(f);
    expect(run.get('q1')!.map((e) => [e.docid, e.score])).to.deep.equal([
      ['b', -1],
      ['a', -2],
      ['c', -3],
    ]);
    // trec_eval order on the raw tied scores would be docid descending: c, b, a
    expect(trecOrder((await readTrecRun(f)).get('q1')!).map((e) => e.docid)).to.deep.equal(['c', 'b', 'a']);
    const g = file('q1 Q0 a 1 5.0 L\nq1 Q0 b 1 5.0 L\n');
    await expectInputError(readLlmRerankRun(g), g, undefined, 'rank', /repeats a rank/);
  });
});

describe('data: qrels', () => {
  it('reads qrels with Q0 or 0 in the second column, tabs or spaces, graded and negative levels', async () => {
    const f = file('q1 0 d1 2\r\nq1 Q0 d2 0\r\nq2\tQ0\td3#1\t-1\n');
    const q = await readQrels(f);
    expect([...q.get('q1')!]).to.deep.equal([
      ['d1', 2],
      ['d2', 0],
    ]);
    expect(q.get('q2')!.get('d3#1')).to.equal(-1);
  });

  const bad: Array<[string, string, number, string]> = [
    ['3 columns', 'q1 0 d1 1\nq1 0 d2\n', 2, 'rel'],
    ['5 columns', 'q1 0 d1 1 9\n', 1, 'rel'],
    ['non-integer grade', 'q1 0 d1 1.5\n', 1, 'rel'],
    ['word grade', 'q1 0 d1 high\n', 1, 'rel'],
    ['duplicate judgment', 'q1 0 d1 1\nq1 0 d1 2\n', 2, 'docid'],
  ];
  for (const [what, content, line, field] of bad) {
    it(`rejects a qrels line with ${what}, and collects it on request`, async () => {
      const f = file(content);
      await expectInputError(readQrels(f), f, line, field);
      const b: BadRecord[] = [];
      await readQrels(f, { onError: 'collect', bad: b });
      expect(b.map((x) => [x.line, x.field])).to.deep.equal([[line, field]]);
    });
  }
});

describe('data: queries and corpus TSV', () => {
  it('reads id<TAB>text, keeping tabs inside passages and undoing CSV quoting', async () => {
    const f = file('1\thello world\n2\t"a\tb ""quoted"" c"\n3\t"raw "quote" kept\n');
    const m = await readCorpusTsv(f);
    expect([...m]).to.deep.equal([
      ['1', 'hello world'],
      ['2', 'a\tb "quoted" c'],
      ['3', '"raw "quote" kept'],
    ]);
    expect((await readCorpusTsv(f, { unquote: false })).get('2')).to.equal('"a\tb ""quoted"" c"');
    expect(await readQueriesTsv(file('\ufeff7\twhat is x\r\n8\ty\r\n'))).to.deep.equal(
      new Map([
        ['7', 'what is x'],
        ['8', 'y'],
      ]),
    );
    // `only` keeps the wanted documents and skips the rest unchecked (reading a few from a collection)
    expect([...(await readCorpusTsv(file('1\ta\nbad line\n2\tb\n'), { only: new Set(['2']) }))]).to.deep.equal([['2', 'b']]);
  });

  const bad: Array<[string, string, number, string]> = [
    ['no tab', '1\tok\n2 no tab here\n', 2, 'text'],
    ['empty id', '\ttext\n', 1, 'qid'],
    ['empty text', '1\t  \n', 1, 'text'],
    ['duplicate id', '1\ta\n1\tb\n', 2, 'qid'],
  ];
  for (const [what, content, line, field] of bad) {
    it(`rejects a TSV line with ${what}, and collects it on request`, async () => {
      const f = file(content);
      await expectInputError(readQueriesTsv(f), f, line, field);
      const b: BadRecord[] = [];
      await readQueriesTsv(f, { onError: 'collect', bad: b });
      expect(b.map((x) => [x.line, x.field])).to.deep.equal([[line, field]]);
    });
  }
});

describe('data: BEIR JSONL', () => {
  it('reads corpus (title + text), queries and qrels', async () => {
    const c = await readBeirCorpus(file('{"_id": "d1", "title": "T", "text": "body"}\n{"_id": 7, "text": "no title", "metadata": {}}\n', 'jsonl'));
    expect(c.get('d1')).to.deep.equal({ title: 'T', text: 'body' });
    expect(c.get('7')).to.deep.equal({ title: '', text: 'no title' });
    expect(beirDocumentText(c.get('d1')!)).to.equal('T body');
    expect(beirDocumentText(c.get('7')!)).to.equal('no title');
    const q = await readBeirQueries(file('{"_id": "q1", "text": "what", "metadata": {}}\n', 'jsonl'));
    expect(q.get('q1')).to.equal('what');
    const qr = await readBeirQrels(file('query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n', 'tsv'));
    expect([...qr.get('q1')!]).to.deep.equal([
      ['d1', 2],
      ['d2', 0],
    ]);
  });

  const bad: Array<[string, string, number, string]> = [
    ['invalid JSON', '{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": \n', 2, 'json'],
    ['a non-object', '[1, 2]\n', 1, 'json'],
    ['missing _id', '{"text": "a"}\n', 1, '_id'],
    ['missing text', '{"_id": "d1", "title": "t"}\n', 1, 'text'],
    ['non-string title', '{"_id": "d1", "title": 5, "text": "a"}\n', 1, 'title'],
    ['duplicate _id', '{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n', 2, '_id'],
  ];
  for (const [what, content, line, field] of bad) {
    it(`rejects a corpus line with ${what}, and collects it on request`, async () => {
      const f = file(content, 'jsonl');
      await expectInputError(readBeirCorpus(f), f, line, field);
      const b: BadRecord[] = [];
      await readBeirCorpus(f, { onError: 'collect', bad: b });
      expect(b.map((x) => [x.line, x.field])).to.deep.equal([[line, field]]);
    });
  }

  it('rejects bad BEIR queries and qrels lines', async () => {
    const f = file('{"_id": "q1"}\n', 'jsonl');
    await expectInputError(readBeirQueries(f), f, 1, 'text');
    const g = file('query-id\tcorpus-id\tscore\nq1\td1\n', 'tsv');
    await expectInputError(readBeirQrels(g), g, 2, 'score');
    const h = file('q1\td1\tx\n', 'tsv');
    await expectInputError(readBeirQrels(h), h, 1, 'score');
  });
});

describe('data: BM25 candidate JSON', () => {
  const hit = (o: Record<string, unknown>) => ({ content: 'text', qid: 5, docid: 'd', score: 1.5, ...o });
  it('reads both forms (int qid with rank; string qid without rank)', async () => {
    const f = file(JSON.stringify([{ query: 'q five', hits: [hit({ docid: 'a', rank: 1 }), hit({ docid: 'b', rank: 2, score: 1 })] }, { query: 'q six', hits: [hit({ qid: 'PLAIN-6', docid: 'c', rank: undefined })] }]), 'json');
    const c = await readBm25Json(f);
    expect(c).to.deep.equal([
      { qid: '5', query: 'q five', hits: [{ docid: 'a', text: 'text', score: 1.5, rank: 1 }, { docid: 'b', text: 'text', score: 1, rank: 2 }] },
      { qid: 'PLAIN-6', query: 'q six', hits: [{ docid: 'c', text: 'text', score: 1.5 }] },
    ]);
  });

  const bad: Array<[string, unknown, string]> = [
    ['a non-object element', 'x', 'element'],
    ['missing query', { hits: [hit({})] }, 'query'],
    ['no hits', { query: 'q', hits: [] }, 'hits'],
    ['non-numeric score', { query: 'q', hits: [hit({ score: '1.0' })] }, 'hits[0].score'],
    ['missing content', { query: 'q', hits: [hit({ content: undefined })] }, 'hits[0].content'],
    ['mixed qids', { query: 'q', hits: [hit({ docid: 'a' }), hit({ docid: 'b', qid: 6 })] }, 'hits[1].qid'],
    ['duplicate docid', { query: 'q', hits: [hit({ docid: 'a' }), hit({ docid: 'a' })] }, 'hits[1].docid'],
    ['fractional rank', { query: 'q', hits: [hit({ rank: 1.5 })] }, 'hits[0].rank'],
  ];
  for (const [what, el, field] of bad) {
    it(`rejects an element with ${what} (by element index), and collects it on request`, async () => {
      const good = { query: 'ok', hits: [hit({ qid: 99 })] };
      // One element per line after the first: element 2 starts on line 3, column 3.
      const f = file(`[\n  ${JSON.stringify(good)},\n  ${JSON.stringify(el)}\n]\n`, 'json');
      const e = await expectInputError(readBm25Json(f), f, 3, field);
      expect(e.location).to.deep.include({ element: 2, column: 3 });
      expect(e.message).to.contain(`${f}:3:3: element 2: field '${field}'`);
      const b: BadRecord[] = [];
      const c = await readBm25Json(f, { onError: 'collect', bad: b });
      expect(c.map((x) => x.qid)).to.deep.equal(['99']);
      expect(b.map((x) => [x.index, x.line, x.field])).to.deep.equal([[2, 3, field]]);
    });
  }

  it('rejects a file that is not a JSON array, and invalid JSON', async () => {
    const f = file('{"query": "x"}', 'json');
    let err: unknown;
    try {
      await readBm25Json(f);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(InputError);
    expect((err as InputError).message).to.contain(f).and.to.contain('array');
    // A file cut short is reported at its end, by line and column (not a byte offset).
    const g = file('[\n  {"query": ', 'json');
    try {
      await readBm25Json(g);
      expect.fail('no error');
    } catch (e) {
      expect(e).to.be.instanceOf(InputError);
      expect((e as InputError).location).to.deep.include({ file: g, line: 2, column: 13 });
      expect((e as InputError).message).to.equal(`${g}:2:13: invalid JSON: the text ends where a value should be (cut short?)`);
    }
  });
});

describe('data: Reason-to-Rank JSONL', () => {
  const rec = (o: Record<string, unknown>) => JSON.stringify({ query: 'q', unsorted_docs: ['a', 'b', 'c'], re_rank_id: ['2', '3', '1'], reason: '[2] > [3] > [1]', scores: ['0', '1', '0'], sorted_docids: ['x', 'y', 'z'], ...o });
  it('reads records with a 0-based permutation, labels and reason', async () => {
    const f = file(rec({}) + '\n', 'jsonl');
    const { records, bad } = await readReason2Rank(f);
    expect(bad).to.deep.equal([]);
    expect(records).to.deep.equal([{ query: 'q', docs: ['a', 'b', 'c'], permutation: [1, 2, 0], reason: '[2] > [3] > [1]', labels: [0, 1, 0], line: 1 }]);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['an empty permutation', { re_rank_id: [] }, 're_rank_id'],
    ['a short permutation', { re_rank_id: ['3'] }, 're_rank_id'],
    ['a repeated index', { re_rank_id: ['1', '1', '2'] }, 're_rank_id'],
    ['an out-of-range index', { re_rank_id: ['1', '2', '4'] }, 're_rank_id[2]'],
    ['a non-numeric index', { re_rank_id: ['1', 'x', '2'] }, 're_rank_id[1]'],
    ['missing docs', { unsorted_docs: undefined }, 'unsorted_docs'],
    ['a non-string doc', { unsorted_docs: ['a', 2, 'c'] }, 'unsorted_docs[1]'],
    ['missing query', { query: undefined }, 'query'],
    ['misaligned labels', { scores: ['0', '1'] }, 'scores'],
    ['a non-numeric label', { scores: ['0', 'high', '1'] }, 'scores[1]'],
  ];
  for (const [what, o, field] of bad) {
    it(`rejects a record with ${what}, and collects it on request`, async () => {
      const f = file(`${rec({})}\n${rec(o)}\n${rec({ query: 'third' })}\n`, 'jsonl');
      await expectInputError(readReason2Rank(f), f, 2, field);
      const { records, bad: b } = await readReason2Rank(f, { onError: 'collect' });
      expect(records.map((r) => r.line)).to.deep.equal([1, 3]);
      expect(b.map((x) => [x.line, x.field])).to.deep.equal([[2, field]]);
    });
  }

  it('rejects invalid JSON lines, naming line and column', async () => {
    const f = file(`${rec({})}\n{"query": \n`, 'jsonl');
    const e = await expectInputError(readReason2Rank(f), f, 2, 'json');
    expect(e.location.column).to.equal(11);
    expect(e.message).to.contain(`${f}:2:11: field 'json': invalid JSON`);
  });
});

describe('data: the staged real files', function () {
  const D = (...p: string[]) => dataPath(...p);

  it('TREC DL 2019/2020: queries, qrels, BM25 run and JSON agree with the READMEs', async function () {
    if (!hasData('trec-dl-2019-passage') || !hasData('trec-dl-2020-passage')) this.skip();
    for (const [y, nq, nj, grades] of [
      ['2019', 43, 9260, [5158, 1601, 1804, 697]],
      ['2020', 54, 11386, [7780, 1940, 1020, 646]],
    ] as const) {
      const queries = await readQueriesTsv(D(`trec-dl-${y}-passage`, 'queries.tsv'));
      const qrels = await readQrels(D(`trec-dl-${y}-passage`, 'qrels.txt'));
      const run = await readTrecRun(D(`trec-dl-${y}-passage`, 'bm25-top100.run'));
      const json = await readBm25Json(D(`trec-dl-${y}-passage`, 'bm25-top100.json'));
      expect(queries.size).to.equal(nq);
      expect(qrels.size).to.equal(nq);
      const all = [...qrels.values()].flatMap((m) => [...m.values()]);
      expect(all).to.have.length(nj);
      expect([0, 1, 2, 3].map((g) => all.filter((x) => x === g).length)).to.deep.equal(grades);
      expect(json).to.have.length(nq);
      expect(json.every((c) => c.hits.length === 100 && c.hits.every((h, i) => h.rank === i + 1))).to.equal(true);
      // the JSON and the run hold the same ranking; JSON query text = queries.tsv
      for (const c of json) {
        expect(run.get(c.qid)!.map((e) => e.docid)).to.deep.equal(c.hits.map((h) => h.docid));
        expect(c.query).to.equal(queries.get(c.qid));
      }
    }
  });

  it('BEIR subsets (int and string qids, no rank) and NovelEval', async function () {
    if (!hasData('beir-bm25-top100-subsets') || !hasData('noveleval-2306')) this.skip();
    for (const [name, nq, hits] of [
      ['trec-covid', 12, 1200],
      ['nfcorpus', 16, 1164],
      ['dbpedia-entity', 21, 2100],
    ] as const) {
      const c = await readBm25Json(D('beir-bm25-top100-subsets', name, 'bm25-top100.json'));
      const q = await readQueriesTsv(D('beir-bm25-top100-subsets', name, 'queries.tsv'));
      const qr = await readQrels(D('beir-bm25-top100-subsets', name, 'qrels.txt'));
      expect(c, name).to.have.length(nq);
      expect(c.reduce((s, x) => s + x.hits.length, 0), name).to.equal(hits);
      expect(c.every((x) => x.hits.every((h) => h.rank === undefined))).to.equal(true);
      expect(new Set(c.map((x) => x.qid))).to.deep.equal(new Set(q.keys()));
      expect(c.every((x) => qr.has(x.qid))).to.equal(true);
    }
    const corpus = await readCorpusTsv(D('noveleval-2306', 'corpus.tsv'));
    const data = await readBm25Json(D('noveleval-2306', 'data.json'));
    expect(corpus.size).to.equal(420);
    expect(data).to.have.length(21);
    // with CSV quoting undone, corpus.tsv equals data.json's passages (the 80 "differences" were escaping)
    let same = 0;
    for (const c of data) for (const h of c.hits) same += Number(corpus.get(h.docid) === h.text);
    expect(same).to.equal(420);
    expect((await readQrels(D('noveleval-2306', 'qrels.txt'))).size).to.equal(21);
  });

  it('MIRACL ko qrels (tab separated, # in docids) and topics', async function () {
    if (!hasData('miracl-ko-dev-topics-qrels')) this.skip();
    const qr = await readQrels(D('miracl-ko-dev-topics-qrels', 'qrels.miracl-v1.0-ko-dev.tsv'));
    expect([...qr.values()].reduce((s, m) => s + m.size, 0)).to.equal(3057);
    expect((await readQueriesTsv(D('miracl-ko-dev-topics-qrels', 'topics.miracl-v1.0-ko-dev.tsv'))).size).to.equal(213);
  });

  it('LLM re-ranked DL19 runs: 43 queries, 90–100 documents each, every docid in the BM25 top-100', async function () {
    if (!hasData('llm-rerank-runs-dl19')) this.skip();
    const bm25 = new Map((await readBm25Json(D('trec-dl-2019-passage', 'bm25-top100.json'))).map((c) => [c.qid, new Set(c.hits.map((h) => h.docid))]));
    const files = fs.readdirSync(D('llm-rerank-runs-dl19')).filter((f) => f.endsWith('.txt'));
    expect(files).to.have.length(5);
    for (const f of files) {
      const run = await readLlmRerankRun(D('llm-rerank-runs-dl19', f));
      expect(run.size, f).to.equal(43);
      for (const [qid, es] of run) {
        expect(es.length).to.be.within(90, 100);
        expect(es.every((e, i) => e.score === -e.rank && (i === 0 || e.rank > es[i - 1].rank))).to.equal(true);
        expect(es.every((e) => bm25.get(qid)!.has(e.docid)), `${f} ${qid}`).to.equal(true);
      }
    }
  });

  it('Reason-to-Rank: the 12 invalid permutations are reported, the rest read', async function () {
    if (!hasData('reason2rank-llm-listwise-teacher')) this.skip();
    const root = D('reason2rank-llm-listwise-teacher');
    const files = fs.readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl')).sort();
    const bad: BadRecord[] = [];
    let records = 0;
    for (const f of files) {
      const r = await readReason2Rank(path.join(root, f), { onError: 'collect' });
      records += r.records.length;
      bad.push(...r.bad);
      for (const x of r.records) {
        expect(x.docs).to.have.length(5);
        expect([...x.permutation].sort()).to.deep.equal([0, 1, 2, 3, 4]);
        expect(x.labels).to.have.length(5);
      }
    }
    expect(files).to.have.length(19);
    expect(bad).to.have.length(12);
    expect(records).to.equal(2200 + 600 + 172 * 2 + 50 + 49 + 40 - 12);
    expect(bad.every((b) => b.field.startsWith('re_rank_id'))).to.equal(true);
    const where = bad.map((b) => `${path.relative(root, b.file)}:${b.line}`);
    expect(where).to.include.members(['gpt-4/dl19_msmarco_test.jsonl:99', 'gpt-3.5/dl19_msmarco_test.jsonl:12', 'gpt-3.5/msmarco-train/msmarco_train_800.jsonl:21']);
    expect(where.filter((w) => w.startsWith('gpt-4/msmarco-train/'))).to.have.length(9);
    // default mode fails on the first one, naming it
    const f = path.join(root, 'gpt-4/dl19_msmarco_test.jsonl');
    await expectInputError(readReason2Rank(f), f, 99, 're_rank_id', /not a permutation/);
  });
});
