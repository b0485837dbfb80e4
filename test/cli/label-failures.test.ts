// `rankdistill label` failure modes, each as a user meets them: a real child process against a real
// local HTTP server (or a port where nothing listens), asserting the exit status and the first console
// line. Exit statuses: 2 bad input, 3 partly done, 4 nothing done (src/cli/exit-codes.ts).
import { expect } from 'chai';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tmpDir } from '../helpers.js';
import { answer, idealOrder, startFakeLlm, type FakeServer } from '../teacher/fake-llm.js';
import { runCli, startCli } from './run-cli.js';

const relOf = (t: string) => Number(/rel(\d+)/.exec(t)?.[1] ?? 0);
const good = (c: { passages: string[] }) => ({ content: answer(idealOrder(c.passages, relOf)) });
const read = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('cli: label failure modes (child processes, real HTTP server)', function () {
  this.timeout(60000);
  let server: FakeServer | null = null;
  let dir: string;
  beforeEach(() => {
    dir = tmpDir();
    // 3 queries × 6 passages; window 4 / step 2 → 2 windows per query.
    fs.writeFileSync(path.join(dir, 'corpus.tsv'), Array.from({ length: 6 }, (_, i) => `d${i}\tpassage about cats rel${i} ${'cat '.repeat(i % 3)}`).join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'queries.tsv'), 'q1\tcats\nq2\tcat passage\nq3\tabout cats\n');
  });
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  const args = (url: string, out = path.join(dir, 'labels.jsonl'), extra: string[] = []) => [
    'label', '--llm-url', url, '--model', 'fake', '--corpus', path.join(dir, 'corpus.tsv'), '--queries', path.join(dir, 'queries.tsv'),
    '--window', '4', '--step', '2', '--out', out, '--quiet', ...extra,
  ];
  const KEY = { MY_KEY: 'sk-test' };

  it('a missing API-key variable: exit 2 before any request', async () => {
    server = await startFakeLlm(good);
    const r = await runCli([...args(server.url), '--api-key-env', 'MY_KEY_TYPO'], { env: { MY_KEY_TYPO: undefined } });
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.equal("rankdistill: field '--api-key-env': the API-key variable MY_KEY_TYPO is not set: export it, name another with --api-key-env VAR, or give --no-api-key for a server that needs none");
    expect(server.calls).to.have.length(0);
    // The same with the default variable; --no-api-key says the server needs none, and the key is then never sent.
    const d = await runCli(args(server.url), { env: { OPENAI_API_KEY: undefined } });
    expect(d.code).to.equal(2);
    expect(d.errLines[0]).to.match(/the API-key variable OPENAI_API_KEY is not set/);
    const ok = await runCli([...args(server.url), '--no-api-key'], { env: { OPENAI_API_KEY: 'sk-secret' } });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(server.calls.length).to.be.greaterThan(0);
    expect(server.calls.every((c) => c.authorization === undefined)).to.equal(true);
  });

  for (const [status, said, first] of [
    [401, 'Incorrect API key provided', /^label: stopping: HTTP 401 Unauthorized from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: the API key from \$MY_KEY was refused \(server said: Incorrect API key provided\)$/],
    [403, 'no access', /^label: stopping: HTTP 403 Forbidden from .*: the API key has no access to model 'fake' or to this endpoint \(server said: no access\)$/],
    [404, 'The model `fake` does not exist.', /^label: stopping: HTTP 404 Not Found from .*: model 'fake' not found, or .* is not a chat-completions endpoint \(server said: The model `fake` does not exist\.\)$/],
  ] as Array<[number, string, RegExp]>) {
    it(`HTTP ${status}: stops at once (no retry, no further query), exit 4`, async () => {
      server = await startFakeLlm(() => ({ status, raw: JSON.stringify({ error: { message: said } }) }));
      const r = await runCli([...args(server.url), '--api-key-env', 'MY_KEY', '--concurrency', '1'], { env: KEY });
      expect(r.code).to.equal(4);
      expect(r.errLines[0]).to.match(first);
      expect(server.calls).to.have.length(1);
      expect(r.stdout).to.match(/labelled 0 queries \(0 earlier\), 0 failed, 3 not tried \(stopped\)/);
      expect(r.errLines.at(-1)).to.match(/^label: exit 4: nothing was labelled \(stopped: HTTP \d+/);
      expect(r.seconds).to.be.below(10);
    });
  }

  it('a 401 while several queries are in flight: one stop line, nothing retried', async () => {
    server = await startFakeLlm(() => ({ status: 401, delayMs: 50, raw: '{"error":"bad key"}' }));
    const r = await runCli([...args(server.url), '--api-key-env', 'MY_KEY', '--concurrency', '3'], { env: KEY });
    expect(r.code).to.equal(4);
    expect(r.errLines.filter((l) => l.startsWith('label: stopping:'))).to.have.length(1);
    expect(server.calls.length).to.be.at.most(3);
  });

  it('no server at --llm-url: stops within seconds after 3 refused connections in a row, exit 4', async () => {
    const port = await deadPort();
    const r = await runCli([...args(`http://127.0.0.1:${port}/v1`), '--no-api-key', '--concurrency', '1']);
    expect(r.code).to.equal(4);
    expect(r.errLines[0]).to.equal(
      `label: stopping: cannot connect to http://127.0.0.1:${port}/v1/chat/completions: cannot connect: fetch failed (ECONNREFUSED), 3 times in a row; is the server running, and is --llm-url right?`,
    );
    // Backoff 0.5–1 s, then 1–2 s between the 3 attempts: at most 3 s of waiting.
    expect(r.seconds).to.be.below(8);
  });

  it('every query fails: exit 4, the first causes on the console as they happen, the rest counted', async () => {
    server = await startFakeLlm(() => ({ content: 'I cannot rank these.' }));
    fs.appendFileSync(path.join(dir, 'queries.tsv'), 'q4\tpassage\n');
    const out = path.join(dir, 'labels.jsonl');
    const r = await runCli([...args(server.url, out), '--no-api-key', '--concurrency', '1']);
    expect(r.code).to.equal(4);
    expect(r.errLines[0]).to.equal('label: query q1 failed: no ranking in the answer (the window over candidates 3–6)');
    expect(r.errLines.slice(0, 4)).to.deep.equal([
      'label: query q1 failed: no ranking in the answer (the window over candidates 3–6)',
      'label: query q2 failed: no ranking in the answer (the window over candidates 3–6)',
      'label: query q3 failed: no ranking in the answer (the window over candidates 3–6)',
      `label: more failures are not printed; every failure is recorded in ${out}.failures.jsonl`,
    ]);
    expect(r.stdout).to.contain('labelled 0 queries (0 earlier), 4 failed');
    expect(r.errLines.at(-1)).to.equal('label: exit 4: nothing was labelled');
    // Each query stopped after its first window failed: 2 calls (the answer asked twice), not 4.
    expect(server.calls).to.have.length(8);
  });

  it('some queries fail: exit 3; a rerun retries only them, as a whole, replaying cached windows', async () => {
    let healthy = false;
    // q2's second window (its BM25 top 2, d2 and d5, are only in the top window) fails until the
    // server is "fixed"; its first window succeeds.
    const top = (c: { passages: string[] }) => c.passages.some((p) => /rel2/.test(p)) && c.passages.some((p) => /rel5/.test(p));
    server = await startFakeLlm((c) => (!healthy && c.query === 'cat passage' && top(c) ? { status: 400, raw: '{"error":"context too long"}' } : good(c)));
    const out = path.join(dir, 'labels.jsonl');
    const r = await runCli([...args(server.url, out), '--no-api-key', '--concurrency', '1']);
    expect(r.code).to.equal(3);
    expect(r.errLines[0]).to.match(/^label: query q2 failed: HTTP 400: \{"error":"context too long"\} \(http:.*\) \(the window over candidates 1–4\)$/);
    expect(r.errLines.at(-1)).to.equal('label: exit 3: some queries failed; run the same command again to retry them');
    expect(read(out).map((l) => l.qid)).to.deep.equal(['q1', 'q3']);
    expect(read(`${out}.failures.jsonl`).map((l) => l.qid)).to.deep.equal(['q2']);
    healthy = true;
    const before = server.calls.length;
    const again = await runCli([...args(server.url, out), '--no-api-key']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.errLines).to.deep.equal([]);
    // Only q2's failed window is sent again; its first window comes from the cache.
    expect(server.calls.slice(before).map((c) => c.query)).to.deep.equal(['cat passage']);
    expect(read(out).map((l) => l.qid)).to.deep.equal(['q1', 'q3', 'q2']);
    expect(fs.readFileSync(`${out}.failures.jsonl`, 'utf8')).to.equal('');
  });

  it('retries and their backoff show in the progress line', async () => {
    server = await startFakeLlm((c) => (c.repeat === 0 && c.query === 'cats' ? { status: 503 } : good(c)));
    const lines: string[] = [];
    const { done } = startCli([...args(server.url).filter((a) => a !== '--quiet'), '--no-api-key', '--concurrency', '1'], { onStderrLine: (l) => lines.push(l) });
    const r = await done;
    expect(r.code, r.stderr).to.equal(0);
    expect(lines[0]).to.match(/^label: 3 queries, 0 already labelled, 3 to do; mode rankgpt; 0 cached answers$/);
    expect(lines.find((l) => /retries=1/.test(l))).to.match(/^label \[\.+\] 0\/3 .* retries=1 wait=0:0[01] \(HTTP 503, attempt 1\/7\)$/);
  });

  it('a restart with other settings is refused, naming each difference; --force starts a new file', async () => {
    server = await startFakeLlm(good);
    const out = path.join(dir, 'labels.jsonl');
    expect((await runCli([...args(server.url, out), '--no-api-key'])).code).to.equal(0);
    const m = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8'));
    expect(m).to.deep.include({ command: 'label' });
    expect(m.settings).to.deep.include({ mode: 'rankgpt', model: 'fake', window: 4, step: 2, depth: 100, temperature: 0 });
    expect(m.settings.promptTemplate).to.match(/^rankgpt-[0-9a-f]{12}$/);
    expect(m.settings.candidates.corpus).to.match(/^[0-9a-f]{64}$/);
    const calls = server.calls.length;
    const r = await runCli([...args(server.url, out).map((a) => (a === '4' ? '3' : a)), '--no-api-key', '--model', 'other']);
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.equal(
      `rankdistill: ${out}: was written by \`rankdistill label\` with other settings, so resuming would mix results made two ways: model: "fake" then, "other" now; window: 4 then, 3 now. Run again with the same settings to resume, or give --force to set the old output aside and start a new one.`,
    );
    // A changed candidates file is a difference too.
    fs.appendFileSync(path.join(dir, 'queries.tsv'), 'q4\tcats and dogs\n');
    const c = await runCli([...args(server.url, out), '--no-api-key']);
    expect(c.code).to.equal(2);
    expect(c.errLines[0]).to.match(/candidates\.queries: "[0-9a-f]{64}" then, "[0-9a-f]{64}" now\./);
    expect(server.calls.length).to.equal(calls);
    const f = await runCli([...args(server.url, out), '--no-api-key', '--mode', 'rradistill', '--force'].filter((a) => a !== '--quiet'));
    expect(f.code, f.stderr).to.equal(0);
    expect(f.errLines[0]).to.match(new RegExp(`^label: --force: the old output is set aside as ${out.replace(/[.]/g, '\\.')}\\.replaced-\\d{8}T\\d{6}`));
    expect(read(out).every((l) => l.mode === 'rradistill')).to.equal(true);
    expect(JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')).settings.mode).to.equal('rradistill');
    const aside = fs.readdirSync(dir).filter((n) => /\.replaced-\d{8}T\d{6}$/.test(n));
    expect(aside).to.have.length(3); // the labels, the failures file and the manifest
  });

  it('labels written before manifests: adopted when mode and model agree, refused when not', async () => {
    server = await startFakeLlm(good);
    const out = path.join(dir, 'labels.jsonl');
    fs.writeFileSync(out, `${JSON.stringify({ qid: 'q1', query: 'cats', mode: 'rradistill', model: 'fake', ranking: ['d1'], hardNegatives: [], texts: { d1: 'x' }, calls: 1, parse: {} })}\n`);
    const r = await runCli([...args(server.url, out), '--no-api-key']);
    expect(r.code).to.equal(2);
    expect(r.errLines[0]).to.contain('with other settings, so resuming would mix results made two ways: mode: "rradistill" then, "rankgpt" now.');
    const ok = await runCli([...args(server.url, out), '--no-api-key', '--mode', 'rradistill']);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(read(out).map((l) => l.qid)).to.deep.equal(['q1', 'q2', 'q3']);
    expect(fs.existsSync(`${out}.manifest.json`)).to.equal(true);
  });
});
