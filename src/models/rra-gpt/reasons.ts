// The reasons RRA-GPT learns to write (the β term): one text per (query, document), read by the
// ranker when it builds a training batch. data/rra-gpt.ts fills it from Reason-to-Rank records.

/** (query, document) → reason text. */
export class ReasonMap {
  private readonly map = new Map<string, string>();
  private static key(query: string, doc: string): string {
    return `${query}\u0000${doc}`;
  }
  set(query: string, doc: string, reason: string): void {
    this.map.set(ReasonMap.key(query, doc), reason);
  }
  get(query: string, doc: string): string | undefined {
    return this.map.get(ReasonMap.key(query, doc));
  }
  get size(): number {
    return this.map.size;
  }
}
