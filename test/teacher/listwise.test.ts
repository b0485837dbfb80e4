// Prompt, parser, sliding window and the RRADistill single call against a real local server playing a
// deterministic LLM.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  LlmClient,
  buildRankingMessages,
  parseRanking,
  parseReasons,
  truncateWords,
  windowSpans,
  slidingWindowRank,
  preRankedRank,
  rankCall,
  type Candidate,
} from '../../src/teacher/index.js';
import { bm25Scorer } from '../../src/retrieval/index.js';
import { startFakeLlm, answer, idealOrder, type FakeServer } from './fake-llm.js';

const relOf = (text: string) => Number(/rel=(\d+)/.exec(text)?.[1] ?? -1);
const client = (s: FakeServer) => new LlmClient({ baseUrl: s.url, model: 'fake', backoffMs: 1, maxRetries: 2, timeoutMs: 2000 });

describe('teacher/prompt and parser', () => {
  it('numbers passages [1]..[n] and cuts each to 300 words', () => {
    const long = Array.from({ length: 350 }, (_, i) => `w${i}`).join('  ');
    const m = buildRankingMessages('what is x', ['short  passage\n one', long]);
    expect(m[0].role).to.equal('system');
    expect(m[1].content).to.contain('I will provide you with 2 passages').and.contain('query: what is x.');
    expect(m[3]).to.deep.equal({ role: 'user', content: '[1] short passage one' });
    expect(m[4]).to.deep.equal({ role: 'assistant', content: 'Received passage [1].' });
    const p2 = m[5].content.split(' ');
    expect(p2[0]).to.equal('[2]');
    expect(p2).to.have.length(301);
    expect(p2[300]).to.equal('w299');
    expect(m[m.length - 1].content).to.match(/^Search Query: what is x\. \nRank the 2 passages above/);
    expect(truncateWords('a b c', 2)).to.equal('a b');
  });

  it('keeps order, drops duplicates and out-of-range ids, reports the missing ones', () => {
    const p = parseRanking('[3] > [1] > [3] > [9] > [0] > [2]', 5);
    expect(p.ranking).to.deep.equal([2, 0, 1]);
    expect(p.missing).to.deep.equal([3, 4]);
    expect(p.duplicates).to.deep.equal([3]);
    expect(p.outOfRange).to.deep.equal([9, 0]);
    expect(p.ok).to.equal(true);
  });

  it('reads bracketed ids only when there are any, bare integers otherwise', () => {
    expect(parseRanking('Ranking the 4 passages: [2] > [4] > [1] > [3]', 4).ranking).to.deep.equal([1, 3, 0, 2]);
    expect(parseRanking('2 > 4 > 1', 4).ranking).to.deep.equal([1, 3, 0]);
    expect(parseRanking('[ 2 ]>[1]', 2).ranking).to.deep.equal([1, 0]);
    const bad = parseRanking('I cannot rank these passages.', 4);
    expect(bad.ok).to.equal(false);
    expect(bad.missing).to.deep.equal([0, 1, 2, 3]);
    expect(parseRanking('[7] > [8]', 4).ok).to.equal(false);
  });

  it('property: ranking and missing partition 0..n-1, ranking in answer order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.integer({ min: -2, max: 35 }), { maxLength: 50 }), (n, ids) => {
        const p = parseRanking(ids.map((i) => `[${i}]`).join(' > '), n);
        const all = [...p.ranking, ...p.missing].sort((a, b) => a - b);
        expect(all).to.deep.equal(Array.from({ length: n }, (_, i) => i));
        const firsts = ids.filter((i, k) => i >= 1 && i <= n && ids.indexOf(i) === k).map((i) => i - 1);
        expect(p.ranking).to.deep.equal(firsts);
      }),
      { numRuns: 300 },
    );
  });

  it('reads reasons as a JSON object keyed by id', () => {
    const r = parseReasons('Sure: {"[2]": "on topic", "1": "off topic", "[9]": "x"}', 3);
    expect(Object.fromEntries(r!)).to.deep.equal({ 1: 'on topic', 0: 'off topic' });
    expect(parseReasons('no json here', 3)).to.equal(undefined);
  });
});

describe('teacher/sliding window', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('window spans: back to front, top clamped, 9 for 100/20/10; bad steps rejected', () => {
    expect(windowSpans(100, 20, 10)).to.have.length(9);
    expect(windowSpans(100, 20, 10)[0]).to.deep.equal([80, 100]);
    expect(windowSpans(100, 20, 10)[8]).to.deep.equal([0, 20]);
    expect(windowSpans(95, 20, 10).at(-1)).to.deep.equal([0, 15]);
    expect(windowSpans(7, 4, 2)).to.deep.equal([
      [3, 7],
      [1, 5],
      [0, 3],
    ]);
    expect(windowSpans(5, 20, 10)).to.deep.equal([[0, 5]]);
    expect(windowSpans(0, 20, 10)).to.deep.equal([]);
    expect(() => windowSpans(10, 4, 0)).to.throw(/step/);
    expect(() => windowSpans(10, 4, 5)).to.throw(/step/);
  });

  it('matches the hand-worked example (7 candidates, window 4, step 2)', async () => {
    // LLM: sorts each window by the rel= number in the text.
    server = await startFakeLlm((c) => ({ content: answer(idealOrder(c.passages, relOf)) }));
    const rels: Array<[string, number]> = [['a', 1], ['b', 5], ['c', 2], ['d', 7], ['e', 3], ['f', 6], ['g', 4]];
    const cands: Candidate[] = rels.map(([id, r]) => ({ docid: id, text: `doc ${id} rel=${r}` }));
    const r = await slidingWindowRank(client(server), 'q', cands, { window: 4, step: 2 });
    // [3,7) d e f g → d f g e :  a b c d f g e
    // [1,5) b c d f → d f b c :  a d f b c g e
    // [0,3) a d f   → d f a   :  d f a b c g e
    expect(server.calls.map((c) => c.passages.map((p) => p.split(' ')[1]).join(''))).to.deep.equal(['defg', 'bcdf', 'adf']);
    expect(r.ranking.map((c) => c.docid).join('')).to.equal('dfabcge');
    expect(r.calls).to.equal(3);
    expect(r.failures).to.deep.equal([]);
  });

  it('RankGPT mode appends left-out ids in their window order', async () => {
    // Window of 4: answer [3] > [3] > [9] (duplicate, out of range): 2 missing... 3 missing, kept in order.
    server = await startFakeLlm(() => ({ content: '[3] > [3] > [9]' }));
    const cands: Candidate[] = ['a', 'b', 'c', 'd'].map((id) => ({ docid: id, text: id }));
    const r = await slidingWindowRank(client(server), 'q', cands, { window: 4, step: 2 });
    expect(r.ranking.map((c) => c.docid)).to.deep.equal(['c', 'a', 'b', 'd']);
    expect(r.stats).to.deep.equal({ duplicates: 1, outOfRange: 1, missing: 3 });
  });

  it('property: the top (window − step) are the global best, calls = number of spans', async () => {
    server = await startFakeLlm((c) => ({ content: answer(idealOrder(c.passages, relOf)) }));
    const cl = client(server);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }).chain((n) =>
          fc.tuple(fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n }), fc.integer({ min: 2, max: 12 })).chain(([perm, w]) =>
            fc.tuple(fc.constant(perm), fc.constant(w), fc.integer({ min: 1, max: Math.floor(w / 2) })),
          ),
        ),
        async ([perm, w, s]) => {
          const cands = perm.map((rel) => ({ docid: `d${rel}`, text: `p rel=${rel}` }));
          const r = await slidingWindowRank(cl, 'q', cands, { window: w, step: s });
          // Requests made (repeated windows are answered from the client's cache).
          expect(r.calls).to.equal(windowSpans(perm.length, w, s).length);
          const top = Math.min(w - s, perm.length);
          const best = [...perm].sort((a, b) => b - a).slice(0, top).map((x) => `d${x}`);
          expect(r.ranking.slice(0, top).map((c) => c.docid)).to.deep.equal(best);
          expect(new Set(r.ranking.map((c) => c.docid)).size).to.equal(perm.length);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('an unparseable answer is asked again once, then recorded as a failure; the windows above it are not sent', async () => {
    // Window [2,4) (sent first) answers prose twice; window [0,2) would answer, but is never asked.
    server = await startFakeLlm((c) => {
      if (c.passages[0] === 'c') return { content: 'Sorry, I cannot help with that.' };
      return { content: '[2] > [1]' };
    });
    const cands: Candidate[] = ['a', 'b', 'c', 'd'].map((id) => ({ docid: id, text: id }));
    const r = await slidingWindowRank(client(server), 'q', cands, { window: 2, step: 2 });
    expect(server.calls).to.have.length(2);
    expect(server.calls.every((c) => c.passages[0] === 'c')).to.equal(true);
    expect(r.calls).to.equal(2);
    expect(r.failures).to.have.length(1);
    expect(r.failures[0]).to.deep.include({ kind: 'unparseable', window: [2, 4], answers: ['Sorry, I cannot help with that.', 'Sorry, I cannot help with that.'] });
    expect(r.ranking.map((c) => c.docid)).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('a window that fails after an earlier one succeeded stops the query there', async () => {
    // 6 candidates, window 2, step 2: [4,6) ranks, [2,4) fails for good (HTTP 400), [0,2) is never sent.
    server = await startFakeLlm((c) => (c.passages.includes('c') ? { status: 400 } : { content: '[2] > [1]' }));
    const cands: Candidate[] = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ docid: id, text: id }));
    const r = await slidingWindowRank(client(server), 'q', cands, { window: 2, step: 2 });
    expect(server.calls.map((c) => c.passages)).to.deep.equal([['e', 'f'], ['c', 'd']]);
    expect(r.failures.map((f) => [f.kind, f.window])).to.deep.equal([['request', [2, 4]]]);
    expect(r.ranking.map((c) => c.docid)).to.deep.equal(['a', 'b', 'c', 'd', 'f', 'e']);
  });

  it('a request that keeps failing is a failure, not the input order', async () => {
    server = await startFakeLlm(() => ({ status: 503 }));
    const r = await rankCall(client(server), 'q', ['a', 'b']);
    expect(r.parsed).to.equal(undefined);
    expect(r.failure?.kind).to.equal('request');
    expect(r.failure?.message).to.match(/gave up after 3 attempts: HTTP 503/);
    expect(server.calls).to.have.length(3);
  });
});

describe('teacher/RRADistill pre-ranked call', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  // Ten candidates; BM25 on "apple" orders the apple documents first.
  const cands: Candidate[] = [
    { docid: 'n1', text: 'a note about pears' },
    { docid: 'a3', text: 'apple' },
    { docid: 'n2', text: 'bananas are yellow' },
    { docid: 'a1', text: 'apple apple apple pie' },
    { docid: 'n3', text: 'grapes grow on vines' },
    { docid: 'a2', text: 'an apple a day, apple juice' },
    { docid: 'n4', text: 'cherries' },
    { docid: 'n5', text: 'plums and more plums in the garden today' },
    { docid: 'n6', text: 'lemons' },
    { docid: 'n7', text: 'a kiwi' },
  ];

  it('pre-ranks, keeps top k + bottom k, one call; left-out ids are hard negatives; reasons by a second call', async () => {
    server = await startFakeLlm((c) => {
      if (c.reasons) return { content: 'Here: {"[1]": "about apples", "[2]": "mentions apple", "[6]": "plums"}' };
      // 6 passages; answer ranks three of them, with a duplicate and an out-of-range id.
      return { content: '[2] > [1] > [2] > [6] > [12]' };
    });
    const r = await preRankedRank(client(server), 'apple', cands, { preRanker: bm25Scorer(), topK: 3, bottomK: 3, reasons: true });
    const scores = bm25Scorer()('apple', cands);
    // The three apple documents score > 0; the rest 0, kept in input order, so the bottom 3 are the last three zeros.
    expect(scores.filter((s) => s > 0)).to.have.length(3);
    expect(r.selected.map((c) => c.docid).slice(3)).to.deep.equal(['n5', 'n6', 'n7']);
    expect(new Set(r.selected.slice(0, 3).map((c) => c.docid))).to.deep.equal(new Set(['a1', 'a2', 'a3']));
    expect(server.calls).to.have.length(2);
    expect(server.calls[0].passages).to.deep.equal(r.selected.map((c) => c.text));
    const sel = r.selected.map((c) => c.docid);
    expect(r.ranking.map((c) => c.docid)).to.deep.equal([sel[1], sel[0], sel[5]]);
    expect(r.hardNegatives.map((c) => c.docid)).to.deep.equal([sel[2], sel[3], sel[4]]);
    expect(r.stats).to.deep.equal({ duplicates: 1, outOfRange: 1, missing: 3 });
    expect(r.reasons).to.deep.equal({ [sel[0]]: 'about apples', [sel[1]]: 'mentions apple', [sel[5]]: 'plums' });
    expect(r.calls).to.equal(2);
    // The reasons prompt carries the ranking as the assistant's answer.
    const reasonMsgs = server.calls[1].body.messages;
    expect(reasonMsgs[reasonMsgs.length - 2].content).to.equal('[2] > [1] > [6]');
  });

  it('without a pre-ranker uses the given order; short lists are sent whole', async () => {
    server = await startFakeLlm((c) => ({ content: answer(c.passages.map((_, i) => i).reverse()) }));
    const r = await preRankedRank(client(server), 'q', cands.slice(0, 4), { topK: 2, bottomK: 2 });
    expect(r.selected.map((c) => c.docid)).to.deep.equal(['n1', 'a3', 'n2', 'a1']);
    expect(r.ranking.map((c) => c.docid)).to.deep.equal(['a1', 'n2', 'a3', 'n1']);
    expect(r.hardNegatives).to.deep.equal([]);
  });

  it('a twice unparseable answer leaves no ranking and a recorded failure', async () => {
    server = await startFakeLlm(() => ({ content: 'no idea' }));
    const r = await preRankedRank(client(server), 'q', cands, { topK: 2, bottomK: 2 });
    expect(r.ranking).to.deep.equal([]);
    expect(r.hardNegatives).to.deep.equal([]);
    expect(r.failures.map((f) => f.kind)).to.deep.equal(['unparseable']);
    expect(server.calls).to.have.length(2);
  });
});
