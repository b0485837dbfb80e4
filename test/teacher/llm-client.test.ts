// The chat-completions client against a real local HTTP server: retries (429 + Retry-After, 5xx,
// timeouts, dropped connections, malformed bodies), non-retryable errors, the cache (resume, cut
// last line), concurrency bound, and the call log.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { LlmClient, LlmError, parseRetryAfter, canonicalJson, type CallLog } from '../../src/teacher/index.js';
import { tmpDir } from '../helpers.js';
import { startFakeLlm, type FakeServer, type Reply } from './fake-llm.js';

const MSG = [{ role: 'user' as const, content: 'hello' }];

function client(server: FakeServer, extra: Partial<ConstructorParameters<typeof LlmClient>[0]> = {}) {
  return new LlmClient({ baseUrl: server.url, model: 'fake-model', apiKey: 'sk-test', backoffMs: 5, maxBackoffMs: 20, timeoutMs: 2000, maxRetries: 4, random: () => 0.5, ...extra });
}

describe('teacher/LlmClient', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends the chat-completions request and reads content and usage', async () => {
    server = await startFakeLlm(() => ({ content: '[2] > [1]' }));
    const logs: CallLog[] = [];
    const c = client(server, { maxTokens: 64, onLog: (l) => logs.push(l) });
    const r = await c.chat(MSG);
    expect(r.content).to.equal('[2] > [1]');
    expect(r.cached).to.equal(false);
    expect(server.calls).to.have.length(1);
    const body = server.calls[0].body;
    expect(body).to.deep.include({ model: 'fake-model', temperature: 0, max_tokens: 64 });
    expect(body.messages).to.deep.equal(MSG);
    expect(server.calls[0].authorization).to.equal('Bearer sk-test');
    expect(r.usage?.promptTokens).to.be.a('number');
    expect(logs).to.have.length(1);
    expect(logs[0]).to.include({ key: r.key, status: 200, cached: false, attempt: 0 });
    expect(logs[0].promptTokens).to.equal(r.usage?.promptTokens);
    expect(r.key).to.match(/^[0-9a-f]{64}$/);
  });

  it('reads the API key from the named environment variable', async () => {
    server = await startFakeLlm(() => ({ content: 'ok' }));
    process.env.RANKDISTILL_TEST_KEY = 'sk-from-env';
    try {
      await new LlmClient({ baseUrl: server.url, model: 'm', apiKeyEnv: 'RANKDISTILL_TEST_KEY' }).chat(MSG);
    } finally {
      delete process.env.RANKDISTILL_TEST_KEY;
    }
    expect(server.calls[0].authorization).to.equal('Bearer sk-from-env');
  });

  it('honours Retry-After on 429 and then succeeds', async () => {
    server = await startFakeLlm((c) => (c.repeat === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { content: 'ok' }));
    const c = client(server);
    const t0 = Date.now();
    const r = await c.chat(MSG);
    const waited = Date.now() - t0;
    expect(r.content).to.equal('ok');
    expect(r.attempts).to.equal(2);
    expect(server.calls).to.have.length(2);
    // Backoff alone would wait ~5 ms; Retry-After says 1 s.
    expect(waited).to.be.at.least(990);
  });

  it('retries 500s, a dropped connection, a malformed body and a timeout, with exponential backoff', async () => {
    const faults: Reply[] = [{ status: 500 }, { drop: true }, { raw: '{"choices": [' }, { hang: true }];
    server = await startFakeLlm((c) => faults[c.index] ?? { content: 'finally' });
    const logs: CallLog[] = [];
    const c = client(server, { timeoutMs: 300, onLog: (l) => logs.push(l) });
    const r = await c.chat(MSG);
    expect(r.content).to.equal('finally');
    expect(server.calls).to.have.length(5);
    expect(c.stats).to.include({ httpCalls: 5, retries: 4, errors: 0 });
    expect(logs.map((l) => l.status)).to.deep.equal([500, undefined, 200, undefined, 200]);
    expect(logs[1].error).to.match(/network error/);
    expect(logs[2].error).to.match(/malformed response body/);
    expect(logs[3].error).to.match(/timed out after 300 ms/);
    expect(logs[3].latencyMs).to.be.within(290, 1500);
  });

  it('backoff doubles up to the cap, with jitter in [d/2, d]', async () => {
    const times: number[] = [];
    server = await startFakeLlm(() => (times.push(Date.now()), { status: 503 }));
    const c = client(server, { backoffMs: 100, maxBackoffMs: 400, maxRetries: 4, random: () => 1 });
    const err = await c.chat(MSG).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LlmError);
    expect((err as LlmError).attempts).to.equal(5);
    expect((err as LlmError).status).to.equal(503);
    expect(server.calls).to.have.length(5);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // random() = 1 → full delay: 100, 200, 400, 400 (capped).
    [100, 200, 400, 400].forEach((d, i) => expect(gaps[i], `gap ${i}`).to.be.within(d - 5, d + 150));
  });

  it('does not retry a 400; a 401 stops the client: pending and later requests fail at once', async () => {
    server = await startFakeLlm(() => ({ status: 400, raw: '{"error":{"message":"context too long"}}' }));
    const e400 = (await client(server).chat(MSG).catch((e: unknown) => e)) as LlmError;
    expect(e400).to.be.instanceOf(LlmError);
    expect([e400.status, e400.fatal]).to.deep.equal([400, false]);
    expect(server.calls).to.have.length(1);
    await server.close();
    server = await startFakeLlm((c) => (c.index === 0 ? { status: 401, raw: '{"error":{"message":"bad key"}}', delayMs: 30 } : { content: 'ok', delayMs: 200 }));
    const c = client(server, { concurrency: 1 });
    // Three requests: the first gets the 401, the two queued behind it are never sent.
    const errs = (await Promise.all([0, 1, 2].map((i) => c.chat([{ role: 'user', content: `m${i}` }]).catch((e: unknown) => e)))) as LlmError[];
    expect(errs.every((e) => e instanceof LlmError && e.fatal && e.status === 401)).to.equal(true);
    expect(errs[0].message).to.equal(`HTTP 401 Unauthorized from ${server.url}/chat/completions: the API key was refused (server said: bad key)`);
    expect(server.calls).to.have.length(1);
    expect(c.stopped).to.equal(errs[0]);
    expect(await c.chat(MSG).catch((e: unknown) => e)).to.equal(errs[0]);
    expect(server.calls).to.have.length(1);
  });

  it('a server gone after answering: stops after 3 refused connections in a row, telling each retry first', async () => {
    // Server up, then down.
    server = await startFakeLlm(() => ({ content: 'ok' }));
    const url = server.url;
    const retries: number[] = [];
    const c = new LlmClient({ baseUrl: url, model: 'm', apiKey: '', backoffMs: 5, maxBackoffMs: 10, maxRetries: 10, maxConnectFailures: 3, onRetry: (e) => retries.push(e.attempt) });
    expect((await c.chat(MSG)).content).to.equal('ok');
    await server.close();
    server = undefined;
    const err = (await c.chat([{ role: 'user', content: 'again' }]).catch((e: unknown) => e)) as LlmError;
    expect(err.fatal).to.equal(true);
    expect(err.attempts).to.equal(3);
    expect(err.message).to.match(/^cannot connect to http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: cannot connect: fetch failed \(ECONNREFUSED\), 3 times in a row/);
    expect(retries).to.deep.equal([1, 2]);
  });

  it('keeps at most `concurrency` requests in flight and shares identical concurrent requests', async () => {
    server = await startFakeLlm(() => ({ content: 'ok', delayMs: 60 }));
    const c = client(server, { concurrency: 3 });
    const msgs = Array.from({ length: 10 }, (_, i) => [{ role: 'user' as const, content: `q${i}` }]);
    await Promise.all([...msgs, msgs[0], msgs[1]].map((m) => c.chat(m)));
    expect(server.calls).to.have.length(10);
    expect(server.maxInFlight).to.equal(3);
  });

  it('resumes from the JSONL cache without calling again, and survives a cut last line', async () => {
    server = await startFakeLlm((c) => ({ content: `answer to ${c.body.messages[0].content}` }));
    const dir = tmpDir();
    const cachePath = path.join(dir, 'cache.jsonl');
    const a = client(server, { cachePath });
    for (const q of ['a', 'b', 'c']) await a.chat([{ role: 'user', content: q }]);
    expect(server.calls).to.have.length(3);
    // A kill in the middle of a write: cut the last line.
    const text = fs.readFileSync(cachePath, 'utf8');
    fs.writeFileSync(cachePath, text.slice(0, text.length - 20));
    const b = client(server, { cachePath });
    expect(b.corruptCacheLines).to.equal(1);
    expect(b.cacheSize).to.equal(2);
    const r = await b.chat([{ role: 'user', content: 'a' }]);
    expect(r).to.include({ cached: true, content: 'answer to a' });
    expect(server.calls).to.have.length(3);
    // 'c' was lost with the cut line: asked again, appended on a fresh line.
    expect((await b.chat([{ role: 'user', content: 'c' }])).cached).to.equal(false);
    expect(server.calls).to.have.length(4);
    const c = client(server, { cachePath });
    expect(c.corruptCacheLines).to.equal(1);
    expect(c.cacheSize).to.equal(3);
    // A different model or temperature is a different request.
    const d = client(server, { cachePath, temperature: 0.7 });
    expect((await d.chat([{ role: 'user', content: 'a' }])).cached).to.equal(false);
  });

  it('a variant asks the same prompt again in a new cache slot', async () => {
    server = await startFakeLlm((c) => ({ content: `v${c.repeat}` }));
    const c = client(server);
    expect((await c.chat(MSG)).content).to.equal('v0');
    expect((await c.chat(MSG)).content).to.equal('v0');
    expect((await c.chat(MSG, { variant: 1 })).content).to.equal('v1');
    expect(server.calls.map((x) => x.hash)).to.deep.equal([server.calls[0].hash, server.calls[0].hash]);
  });

  it('parses Retry-After seconds and dates; canonical JSON sorts keys', () => {
    expect(parseRetryAfter('3')).to.equal(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).to.equal(6000);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    expect(parseRetryAfter(null)).to.equal(undefined);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).to.equal('{"a":[{"d":2}],"b":1}');
  });
});
