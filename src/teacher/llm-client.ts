// OpenAI-compatible chat-completions client for teacher labelling (hosted APIs, vLLM, llama.cpp,
// Ollama): bounded concurrency, per-request timeout, retries with backoff and jitter on 429/5xx/
// timeouts/dropped connections (honouring Retry-After), an append-only JSONL cache so an interrupted
// run resumes without paying twice, and a log line per call. Errors that retrying cannot fix stop the
// client at once (fail fast): HTTP 401/403 (the key), 404 (an unknown model or a wrong URL), and a
// server that refuses several connections in a row; every pending and later request then fails with
// the same fatal LlmError.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
}

export interface ChatResult {
  content: string;
  /** sha256 of the canonical request (the cache key and the log's prompt hash). */
  key: string;
  cached: boolean;
  usage?: Usage;
  finishReason?: string;
  /** Wall time of the successful HTTP call (0 for cache hits). */
  latencyMs: number;
  /** HTTP attempts this result took (0 for cache hits). */
  attempts: number;
}

/** One line of the call log: every HTTP attempt and every cache hit. */
export interface CallLog {
  time: string;
  key: string;
  model: string;
  attempt: number;
  cached: boolean;
  status?: number;
  latencyMs: number;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  error?: string;
}

export interface LlmClientOptions {
  /** Server base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`; `/chat/completions` is appended unless present. */
  baseUrl: string;
  model: string;
  /** API key; default: the value of the environment variable `apiKeyEnv`. No key → no Authorization header (local servers). */
  apiKey?: string;
  /** Environment variable holding the key (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
  /** Default 0: labels must be reproducible. */
  temperature?: number;
  maxTokens?: number;
  /** Extra body fields sent with every request (e.g. `{seed: 0}`); part of the cache key. */
  extraBody?: Record<string, unknown>;
  /** Requests in flight at most (default 4). */
  concurrency?: number;
  /** Per-attempt timeout including reading the body (default 120 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 6). */
  maxRetries?: number;
  /** First backoff delay (default 1000 ms), doubled per retry, with jitter. */
  backoffMs?: number;
  /** Cap of one backoff delay (default 60 s). */
  maxBackoffMs?: number;
  /** Cap of an honoured Retry-After (default 300 s). */
  maxRetryAfterMs?: number;
  /** Append-only JSONL cache of answers keyed by request hash. */
  cachePath?: string;
  /** Append-only JSONL call log. */
  logPath?: string;
  onLog?: (entry: CallLog) => void;
  /** Random source for jitter (tests). */
  random?: () => number;
  /**
   * Connection failures in a row (refused, unknown host, unreachable; any HTTP answer resets the
   * count) after which the server is taken for down and the client stops (default 3).
   */
  maxConnectFailures?: number;
  /** Told of every retry before its backoff wait (for a progress line). */
  onRetry?: (event: RetryEvent) => void;
}

/** A failed attempt that will be retried after `delayMs`. */
export interface RetryEvent {
  key: string;
  /** The attempt that failed (1-based) and the most there will be. */
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  status?: number;
  error: string;
}

/**
 * A request that failed for good (non-retryable status, or retries exhausted). `fatal`: no request to
 * this server can succeed until the user fixes something (key, model, URL, server); the client stops.
 */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly key: string,
    readonly attempts: number,
    readonly status?: number,
    readonly fatal = false,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

interface CacheEntry {
  key: string;
  model: string;
  time: string;
  content: string;
  usage?: Usage;
  finishReason?: string;
}

class Retryable extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    /** The server could not be reached at all (counts toward maxConnectFailures). */
    readonly connect = false,
  ) {
    super(message);
  }
}

/** Socket errors that mean nothing answered at that address (as opposed to a dropped or reset connection). */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

/** JSON with object keys sorted at every level, so equal requests hash equally. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class LlmClient {
  readonly model: string;
  readonly url: string;
  readonly stats = { requests: 0, cacheHits: 0, httpCalls: 0, retries: 0, errors: 0, promptTokens: 0, completionTokens: 0 };
  /** Lines of the cache file that could not be read (e.g. a last line cut by a kill). */
  readonly corruptCacheLines: number = 0;
  private readonly o: Required<Pick<LlmClientOptions, 'temperature' | 'concurrency' | 'timeoutMs' | 'maxRetries' | 'backoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs' | 'maxConnectFailures'>> & LlmClientOptions;
  private readonly apiKey?: string;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<ChatResult>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private cacheNeedsNewline = false;
  private readonly random: () => number;
  /** Set once an unfixable error is seen: every request fails with it from then on. */
  private fatalError: LlmError | null = null;
  /** Aborts in-flight requests and backoff waits when the client stops. */
  private readonly stopCtrl = new AbortController();
  private connectFailures = 0;

  constructor(opts: LlmClientOptions) {
    if (!opts.baseUrl) throw new Error('LLM client: baseUrl is required');
    if (!opts.model) throw new Error('LLM client: model is required');
    this.o = { temperature: 0, concurrency: 4, timeoutMs: 120_000, maxRetries: 6, backoffMs: 1000, maxBackoffMs: 60_000, maxRetryAfterMs: 300_000, maxConnectFailures: 3, ...opts };
    if (!(this.o.concurrency >= 1)) throw new Error(`LLM client: concurrency must be >= 1, got ${this.o.concurrency}`);
    this.model = opts.model;
    const base = opts.baseUrl.replace(/\/+$/, '');
    this.url = /\/chat\/completions$/.test(base) ? base : `${base}/chat/completions`;
    this.apiKey = opts.apiKey ?? process.env[opts.apiKeyEnv ?? 'OPENAI_API_KEY'] ?? undefined;
    this.random = opts.random ?? Math.random;
    if (opts.cachePath) this.corruptCacheLines = this.loadCache(opts.cachePath);
    // Folders for the append-only files, once (not on every write).
    for (const f of [opts.cachePath, opts.logPath]) if (f) fs.mkdirSync(path.dirname(path.resolve(f)), { recursive: true });
  }

  /** The error that stopped the client, if one did. */
  get stopped(): LlmError | null {
    return this.fatalError;
  }

  /** Stops the client: pending and later requests fail with `error` (fatal). */
  stop(error: LlmError): void {
    if (this.fatalError) return;
    this.fatalError = error;
    this.stopCtrl.abort();
  }

  /** Number of cached answers. */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** The body sent for these messages. */
  requestBody(messages: ChatMessage[]): Record<string, unknown> {
    return { model: this.model, messages, temperature: this.o.temperature, max_tokens: this.o.maxTokens, ...this.o.extraBody };
  }

  /**
   * The cache key. `variant` > 0 asks for a fresh answer to the same prompt (a retry after an
   * unparseable answer): the request sent is identical, only the cache slot differs.
   */
  keyOf(messages: ChatMessage[], variant = 0): string {
    const body = this.requestBody(messages);
    return sha256(canonicalJson(variant ? { body, variant } : body));
  }

  async chat(messages: ChatMessage[], opts: { variant?: number } = {}): Promise<ChatResult> {
    const key = this.keyOf(messages, opts.variant ?? 0);
    if (this.fatalError) throw this.fatalError;
    this.stats.requests++;
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.cacheHits++;
      this.log({ time: new Date().toISOString(), key, model: this.model, attempt: 0, cached: true, latencyMs: 0, ...hit.usage });
      return { content: hit.content, key, cached: true, usage: hit.usage, finishReason: hit.finishReason, latencyMs: 0, attempts: 0 };
    }
    // Identical concurrent requests share one call.
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetchWithRetries(key, this.requestBody(messages)).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetchWithRetries(key: string, body: Record<string, unknown>): Promise<ChatResult> {
    const payload = JSON.stringify(body);
    let lastError = '';
    let lastStatus: number | undefined;
    for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
      await this.acquire();
      if (this.fatalError) {
        this.release();
        throw this.fatalError;
      }
      const t0 = performance.now();
      let retryAfterMs: number | undefined;
      try {
        const r = await this.attempt(payload);
        const latencyMs = performance.now() - t0;
        this.release();
        const entry: CacheEntry = { key, model: this.model, time: new Date().toISOString(), content: r.content, usage: r.usage, finishReason: r.finishReason };
        this.store(entry);
        if (r.usage) {
          this.stats.promptTokens += r.usage.promptTokens ?? 0;
          this.stats.completionTokens += r.usage.completionTokens ?? 0;
        }
        this.log({ time: entry.time, key, model: this.model, attempt, cached: false, status: 200, latencyMs: Math.round(latencyMs), ...r.usage });
        return { content: r.content, key, cached: false, usage: r.usage, finishReason: r.finishReason, latencyMs, attempts: attempt + 1 };
      } catch (e) {
        this.release();
        if (this.fatalError) throw this.fatalError;
        const latencyMs = Math.round(performance.now() - t0);
        const status = (e as { status?: number }).status;
        this.log({ time: new Date().toISOString(), key, model: this.model, attempt, cached: false, status, latencyMs, error: (e as Error).message });
        if (!(e instanceof Retryable)) {
          this.stats.errors++;
          const fatal = (e as { fatal?: boolean }).fatal === true;
          const err = new LlmError(fatal ? (e as Error).message : `${(e as Error).message} (${this.url})`, key, attempt + 1, status, fatal);
          if (fatal) this.stop(err);
          throw err;
        }
        if (e.connect) {
          this.connectFailures++;
          if (this.connectFailures >= this.o.maxConnectFailures) {
            this.stats.errors++;
            const err = new LlmError(
              `cannot connect to ${this.url}: ${e.message}, ${this.connectFailures} times in a row; is the server running, and is --llm-url right?`,
              key,
              attempt + 1,
              undefined,
              true,
            );
            this.stop(err);
            throw err;
          }
        }
        lastError = e.message;
        lastStatus = e.status;
        retryAfterMs = e.retryAfterMs;
      }
      if (attempt < this.o.maxRetries) {
        this.stats.retries++;
        const delayMs = this.delay(attempt, retryAfterMs);
        this.o.onRetry?.({ key, attempt: attempt + 1, maxAttempts: this.o.maxRetries + 1, delayMs, status: lastStatus, error: lastError });
        await this.sleep(delayMs);
        if (this.fatalError) throw this.fatalError;
      }
    }
    this.stats.errors++;
    throw new LlmError(`gave up after ${this.o.maxRetries + 1} attempts: ${lastError} (${this.url})`, key, this.o.maxRetries + 1, lastStatus);
  }

  /** A backoff wait that ends early when the client stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.stopCtrl.signal;
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  /** Backoff before retry `attempt + 1`: Retry-After when given, else capped 2^attempt with jitter in [d/2, d]. */
  private delay(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.o.maxRetryAfterMs);
    const d = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt);
    return d / 2 + (this.random() * d) / 2;
  }

  private async attempt(payload: string): Promise<{ content: string; usage?: Usage; finishReason?: string }> {
    this.stats.httpCalls++;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), ctrl.abort()), this.o.timeoutMs);
    const onStop = () => ctrl.abort();
    this.stopCtrl.signal.addEventListener('abort', onStop);
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
      const res = await fetch(this.url, { method: 'POST', headers, body: payload, signal: ctrl.signal });
      this.connectFailures = 0;
      const text = await res.text();
      if (res.status === 429 || res.status >= 500) {
        throw new Retryable(`HTTP ${res.status}: ${text.slice(0, 200)}`, res.status, parseRetryAfter(res.headers.get('retry-after')));
      }
      if (res.status === 401 || res.status === 403 || res.status === 404) {
        throw Object.assign(new Error(this.fatalMessage(res.status, text)), { status: res.status, fatal: true });
      }
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}: ${text.slice(0, 500)}`), { status: res.status });
      let json: {
        choices?: Array<{ message?: { content?: unknown }; finish_reason?: string }>;
        usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
      };
      try {
        json = JSON.parse(text);
      } catch {
        // A 200 with a cut or garbled body is a server/proxy glitch: try again.
        throw new Retryable(`malformed response body: ${text.slice(0, 200)}`, res.status);
      }
      const content = json.choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw new Retryable(`response has no choices[0].message.content: ${text.slice(0, 200)}`, res.status);
      const u = json.usage;
      const usage = u ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens } : undefined;
      return { content, usage, finishReason: json.choices?.[0]?.finish_reason };
    } catch (e) {
      if (e instanceof Retryable || (e as { status?: number }).status !== undefined) throw e;
      if (this.fatalError) throw this.fatalError;
      if (timedOut) throw new Retryable(`timed out after ${this.o.timeoutMs} ms`);
      // fetch rejects with a TypeError on refused/reset/dropped connections; the cause says which.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (cause && !cause.code && /bad port|invalid url|unknown scheme|not supported/i.test(cause.message ?? '')) {
        throw Object.assign(new Error(`cannot send to ${this.url}: ${cause.message}`), { fatal: true });
      }
      const connect = cause?.code !== undefined && CONNECT_CODES.has(cause.code);
      throw new Retryable(`${connect ? 'cannot connect' : 'network error'}: ${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`, undefined, undefined, connect);
    } finally {
      clearTimeout(timer);
      this.stopCtrl.signal.removeEventListener('abort', onStop);
    }
  }

  /** What an unfixable HTTP status means for the user, with the server's own words. */
  private fatalMessage(status: number, body: string): string {
    let said = body.slice(0, 300);
    try {
      const j = JSON.parse(body) as { error?: { message?: string } | string; message?: string; detail?: string };
      said = (typeof j.error === 'string' ? j.error : j.error?.message) ?? j.message ?? j.detail ?? said;
    } catch {
      // not JSON: the raw text
    }
    const keyVar = this.o.apiKeyEnv ?? 'OPENAI_API_KEY';
    const hint =
      status === 404
        ? `model '${this.model}' not found, or ${this.url} is not a chat-completions endpoint`
        : status === 401
          ? this.apiKey
            ? `the API key${this.o.apiKey ? '' : ` from $${keyVar}`} was refused`
            : `no API key was sent; set $${keyVar} (or --api-key-env VAR)`
          : `the API key has no access to model '${this.model}' or to this endpoint`;
    return `HTTP ${status} ${STATUS_TEXT[status] ?? ''} from ${this.url}: ${hint} (server said: ${said.trim() || '(empty body)'})`;
  }

  private acquire(): Promise<void> {
    if (this.active < this.o.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => (this.active++, resolve())));
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  /** Reads the cache, skipping unreadable lines; returns how many were skipped. */
  private loadCache(file: string): number {
    if (!fs.existsSync(file)) return 0;
    const text = fs.readFileSync(file, 'utf8');
    this.cacheNeedsNewline = text.length > 0 && !text.endsWith('\n');
    let bad = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as CacheEntry;
        if (typeof e.key === 'string' && typeof e.content === 'string') this.cache.set(e.key, e);
        else bad++;
      } catch {
        bad++;
      }
    }
    return bad;
  }

  private store(entry: CacheEntry): void {
    this.cache.set(entry.key, entry);
    const file = this.o.cachePath;
    if (!file) return;
    // One write per entry: a kill leaves at most a cut last line, which loadCache skips; the
    // leading newline keeps the next entry off that cut line.
    fs.appendFileSync(file, `${this.cacheNeedsNewline ? '\n' : ''}${JSON.stringify(entry)}\n`);
    this.cacheNeedsNewline = false;
  }

  private log(entry: CallLog): void {
    this.o.onLog?.(entry);
    if (this.o.logPath) {
      fs.appendFileSync(this.o.logPath, `${JSON.stringify(entry)}\n`);
    }
  }
}
