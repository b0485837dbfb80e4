// A progress line on stderr for long work (training, labelling, reranking): count, rate, ETA and
// free-form fields. Redraws in place on a TTY, prints a line every `every` ms otherwise (CI logs).

export interface ProgressOptions {
  total: number;
  label: string;
  /** Already done (a resumed run). */
  start?: number;
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between redraws (default 250 on a TTY, 10000 otherwise). */
  every?: number;
  /** Print nothing (tests, library callers that report progress themselves). */
  silent?: boolean;
  /** What is being counted, for the rate ("lists/s"). */
  unit?: string;
}

export class Progress {
  private done = 0;
  private readonly t0 = Date.now();
  private last = 0;
  /** Count at the last line printed (so that finish() does not repeat it in a log). */
  private drawnAt = -1;
  private fields: Record<string, string | number> = {};
  private readonly stream: NodeJS.WriteStream;
  private readonly every: number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.every = opts.every ?? (this.stream.isTTY ? 250 : 10000);
    this.done = opts.start ?? 0;
  }

  get count(): number {
    return this.done;
  }

  tick(n = 1, fields?: Record<string, string | number>): void {
    this.done += n;
    if (fields) Object.assign(this.fields, fields);
    const now = Date.now();
    if (now - this.last >= this.every || this.done >= this.opts.total) {
      this.last = now;
      this.draw(false);
    }
  }

  /** Updates fields without counting (retries, a backoff wait) and redraws when the interval allows. */
  set(fields: Record<string, string | number | undefined>): void {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) delete this.fields[k];
      else this.fields[k] = v;
    }
    const now = Date.now();
    if (now - this.last >= this.every) {
      this.last = now;
      this.draw(false);
    }
  }

  /**
   * Prints a message line (a failure's cause) above the progress line, even when silent: on a TTY
   * the progress line is cleared first and drawn again below it.
   */
  note(line: string): void {
    const redraw = this.stream.isTTY && !this.opts.silent && this.drawnAt >= 0;
    this.stream.write(`${this.stream.isTTY ? '\r\x1b[K' : ''}${line}\n`);
    if (redraw) this.draw(false);
  }

  /** Final line (always printed unless silent). */
  finish(fields?: Record<string, string | number>): void {
    if (fields) Object.assign(this.fields, fields);
    if (this.stream.isTTY || this.drawnAt !== this.done || fields) this.draw(true);
  }

  private draw(final: boolean): void {
    if (this.opts.silent) return;
    this.drawnAt = this.done;
    const { total, label, unit = 'it' } = this.opts;
    const secs = (Date.now() - this.t0) / 1000;
    const rate = (this.done - (this.opts.start ?? 0)) / Math.max(secs, 1e-9);
    const frac = total > 0 ? Math.min(1, this.done / total) : 1;
    const width = 24;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const eta = rate > 0 && this.done < total ? (total - this.done) / rate : 0;
    const extra = Object.entries(this.fields)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`)
      .join(' ');
    const line = `${label} [${bar}] ${this.done}/${total} ${fmt(rate)} ${unit}/s ${formatDuration(secs)}<${formatDuration(eta)} ${extra}`.trimEnd();
    if (this.stream.isTTY) this.stream.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
  return Number(v.toPrecision(4)).toString();
}

export function formatDuration(secs: number): string {
  const s = Math.round(secs);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(s % 60).padStart(2, '0')}`;
}
