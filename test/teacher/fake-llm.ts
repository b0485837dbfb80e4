// A real chat-completions server on 127.0.0.1 for tests: each request is handed to a script that
// answers with content, an HTTP status, a delay, a hang (past the client's timeout) or a dropped
// connection. It records every call and the peak number of requests in flight.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';

export interface FakeCall {
  index: number;
  body: { model: string; messages: Array<{ role: string; content: string }>; temperature?: number; max_tokens?: number };
  /** sha256 of the raw body: equal prompts, equal hashes. */
  hash: string;
  /** Passages of a ranking prompt, in prompt order ([1] first). */
  passages: string[];
  query: string;
  /** The request asks for reasons (RRADistill second call). */
  reasons: boolean;
  /** How many earlier calls had this same body. */
  repeat: number;
  authorization?: string;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Answer text, wrapped in a chat-completions body. */
  content?: string;
  /** Raw body instead (malformed JSON tests). */
  raw?: string;
  delayMs?: number;
  /** Never answer. */
  hang?: boolean;
  /** Destroy the socket without answering. */
  drop?: boolean;
}

export interface FakeServer {
  url: string;
  calls: FakeCall[];
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startFakeLlm(script: (call: FakeCall) => Reply | Promise<Reply>): Promise<FakeServer> {
  const calls: FakeCall[] = [];
  const repeats = new Map<string, number>();
  const sockets = new Set<Socket>();
  let inFlight = 0;
  const state = { maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw) as FakeCall['body'];
      const hash = createHash('sha256').update(raw).digest('hex');
      const repeat = repeats.get(hash) ?? 0;
      repeats.set(hash, repeat + 1);
      const users = body.messages.filter((m) => m.role === 'user').map((m) => m.content);
      const passages = users.map((u) => /^\[(\d+)\] ([\s\S]*)$/.exec(u)).filter((m): m is RegExpExecArray => !!m).map((m) => m[2]);
      const last = body.messages[body.messages.length - 1].content;
      const q = /Rank the passages based on their relevance to query: ([\s\S]*)\.$/.exec(users[0] ?? '');
      const call: FakeCall = { index: calls.length, body, hash, passages, query: q?.[1] ?? '', reasons: last.startsWith('For each passage'), repeat, authorization: req.headers.authorization };
      calls.push(call);
      let reply: Reply;
      try {
        reply = await script(call);
      } catch (e) {
        reply = { status: 599, raw: String(e) };
      }
      const finish = () => (inFlight--, undefined);
      if (reply.hang) {
        res.on('close', finish);
        return;
      }
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (reply.drop) {
        finish();
        req.socket.destroy();
        return;
      }
      const status = reply.status ?? 200;
      const text =
        reply.raw ??
        JSON.stringify(
          status === 200
            ? {
                id: `chatcmpl-${call.index}`,
                object: 'chat.completion',
                model: body.model,
                choices: [{ index: 0, message: { role: 'assistant', content: reply.content ?? '' }, finish_reason: 'stop' }],
                usage: { prompt_tokens: raw.length >> 2, completion_tokens: (reply.content ?? '').length >> 2, total_tokens: (raw.length >> 2) + ((reply.content ?? '').length >> 2) },
              }
            : { error: { message: `scripted ${status}` } },
        );
      res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text, finish);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** `[i] > [j] > ...` (1-based) for 0-based ids. */
export function answer(ids: number[]): string {
  return ids.map((i) => `[${i + 1}]`).join(' > ');
}

/** The permutation (0-based ids) sorting passages by a relevance function, descending, ties by position. */
export function idealOrder(passages: string[], rel: (text: string) => number): number[] {
  return passages.map((p, i) => ({ i, r: rel(p) })).sort((a, b) => b.r - a.r || a.i - b.i).map((x) => x.i);
}
