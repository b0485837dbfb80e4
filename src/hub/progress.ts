// A byte-count progress bar (in MB) on the shared Progress line, for downloads and unzipping.
import { Progress } from '../utils/progress.js';

export class ByteProgress {
  private bar: Progress | null = null;
  private bytes: number;

  constructor(
    private readonly label: string,
    private total: number | null,
    private readonly silent: boolean,
    start = 0,
  ) {
    this.bytes = start;
    this.make();
  }

  private make(): void {
    // Files under 1 MB finish before a bar would say anything.
    if (this.silent || this.total === null || this.total < 1e6) return;
    this.bar = new Progress({ total: Math.ceil(this.total / 1e6), label: this.label, unit: 'MB', start: Math.floor(this.bytes / 1e6) });
  }

  setTotal(total: number): void {
    this.total = total;
    if (!this.bar) this.make();
  }

  reset(): void {
    this.bytes = 0;
    this.bar = null;
    this.make();
  }

  add(n: number): void {
    const before = Math.floor(this.bytes / 1e6);
    this.bytes += n;
    const ticks = Math.floor(this.bytes / 1e6) - before;
    if (ticks > 0) this.bar?.tick(ticks);
  }

  finish(): void {
    if (!this.bar || this.total === null) return;
    const rest = Math.ceil(this.total / 1e6) - this.bar.count;
    if (rest > 0) this.bar.tick(rest);
    this.bar.finish();
  }
}
