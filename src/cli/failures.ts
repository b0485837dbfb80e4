// Failures of a long command on the console as they happen: the first few causes in full, then a
// count and where the rest are recorded, so a user sees at once why items fail (connection refused,
// HTTP 401, a bad file) instead of finding out from an exit status or a failures file later.

export interface FailureReporterOptions {
  /** Command name that prefixes every line ("label"). */
  command: string;
  /** Failures printed in full (default 3). */
  show?: number;
  /** Where every failure is recorded, named once the console stops printing them. */
  recordedIn?: string;
  /** Prints one line (default: stderr). Give Progress.note so the progress line is redrawn below it. */
  print?: (line: string) => void;
}

export class FailureReporter {
  private n = 0;
  private fatalCause: string | null = null;
  private readonly print: (line: string) => void;

  constructor(private readonly o: FailureReporterOptions) {
    this.print = o.print ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Items failed so far. */
  get count(): number {
    return this.n;
  }

  /** The cause of a fatal stop, if one happened. */
  get fatal(): string | null {
    return this.fatalCause;
  }

  /** One item failed (it is retried by the next run). */
  failed(item: string, cause: string): void {
    this.n++;
    const show = this.o.show ?? 3;
    if (this.n <= show) this.print(`${this.o.command}: ${item} failed: ${oneLine(cause)}`);
    if (this.n === show + 1) this.print(`${this.o.command}: more failures are not printed${this.o.recordedIn ? `; every failure is recorded in ${this.o.recordedIn}` : ''}`);
  }

  /** The run stops: an error that retrying cannot fix. Printed at once, whatever was printed before. */
  stop(cause: string): void {
    if (this.fatalCause) return;
    this.fatalCause = cause;
    this.print(`${this.o.command}: stopping: ${oneLine(cause)}`);
  }
}

/** A cause on one console line (server error bodies may hold newlines). */
export function oneLine(s: string, max = 400): string {
  const t = s.replace(/\s*\n\s*/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
