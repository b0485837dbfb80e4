// Runs `rankdistill …` as a user does: a real child process of src/cli/main.ts, asynchronous (so a
// fake server in this process keeps answering), with its exit status and console lines.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /**
   * Non-empty stderr lines, in order, without the two lines TensorFlow's C++ runtime prints when it
   * loads (absl's "WARNING: All log messages before absl::InitializeLog()…" and oneDNN's I0000 note):
   * they are the native library's, not rankdistill's.
   */
  errLines: string[];
  seconds: number;
}

export const MAIN = path.resolve('src/cli/main.ts');

/** Starts the CLI; `onStderrLine` sees each stderr line as it comes (to send a signal at the right moment). */
export function startCli(args: string[], opts: { env?: Record<string, string | undefined>; onStderrLine?: (line: string, child: ChildProcess) => void; onStdoutLine?: (line: string, child: ChildProcess) => void } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const t0 = Date.now();
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lines = (buf: { s: string }, chunk: string, cb?: (l: string, c: ChildProcess) => void) => {
    buf.s += chunk;
    let i;
    while ((i = buf.s.indexOf('\n')) >= 0) {
      const l = buf.s.slice(0, i);
      buf.s = buf.s.slice(i + 1);
      cb?.(l, child);
    }
  };
  const eb = { s: '' };
  const ob = { s: '' };
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    lines(eb, c, opts.onStderrLine);
  });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    lines(ob, c, opts.onStdoutLine);
  });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim() && !isNativeLog(l)), seconds: (Date.now() - t0) / 1000 }),
    );
  });
  return { child, done };
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** A line from TensorFlow's native logger (absl / tsl format), not from rankdistill. */
export function isNativeLog(line: string): boolean {
  return /^WARNING: All log messages before absl::InitializeLog\(\)/.test(line) || /^[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] /.test(line);
}
