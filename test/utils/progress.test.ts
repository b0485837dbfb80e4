import { expect } from 'chai';
import { Progress, formatDuration } from '../../src/utils/progress.js';

function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('Progress', () => {
  it('prints the completed line once in a log (no TTY), with fields', () => {
    const s = sink(false);
    const p = new Progress({ total: 3, label: 'rerank', unit: 'query', stream: s.stream, every: 1e9 });
    p.tick(1, { loss: 0.5 });
    p.tick(2);
    p.finish();
    expect(s.lines).to.have.length(2); // the first tick (nothing printed yet) and the completed count
    expect(s.lines[s.lines.length - 1]).to.match(/^rerank \[#{24}\] 3\/3 .* query\/s .*loss=0\.5\n$/);
  });

  it('redraws in place on a TTY and ends with a newline', () => {
    const s = sink(true);
    const p = new Progress({ total: 2, label: 'train', stream: s.stream, every: 0 });
    p.tick();
    p.finish();
    expect(s.lines.every((l) => l.startsWith('\r\x1b[K'))).to.equal(true);
    expect(s.lines[s.lines.length - 1].endsWith('\n')).to.equal(true);
  });

  it('set() shows fields without counting (retries, a wait) and removes them; note() prints above the line, even when silent', () => {
    const s = sink(true);
    const p = new Progress({ total: 4, label: 'label', stream: s.stream, every: 0 });
    p.tick(1);
    p.set({ retries: 2, wait: '0:04 (HTTP 503, attempt 2/7)' });
    expect(s.lines.at(-1)).to.match(/^\r\x1b\[Klabel \[#{6}\.{18}\] 1\/4 .* retries=2 wait=0:04 \(HTTP 503, attempt 2\/7\)$/);
    p.set({ wait: undefined });
    expect(s.lines.at(-1)).to.match(/retries=2$/);
    const n = s.lines.length;
    p.note('label: query q2 failed: HTTP 400');
    // The progress line is cleared, the message printed, the line drawn again below it.
    expect(s.lines.slice(n)).to.have.length(2);
    expect(s.lines[n]).to.equal('\r\x1b[Klabel: query q2 failed: HTTP 400\n');
    expect(s.lines[n + 1]).to.match(/^\r\x1b\[Klabel \[/);
    const q = sink(false);
    new Progress({ total: 1, label: 'x', stream: q.stream, silent: true }).note('a failure');
    expect(q.lines).to.deep.equal(['a failure\n']);
  });

  it('counts from a resumed start and formats durations', () => {
    const s = sink(false);
    const p = new Progress({ total: 10, label: 'x', start: 7, stream: s.stream, silent: true });
    p.tick(3);
    expect(p.count).to.equal(10);
    expect(s.lines).to.have.length(0);
    expect(formatDuration(59.6)).to.equal('1:00');
    expect(formatDuration(3725)).to.equal('1h02m');
  });
});
