// nDCG@k with trec_eval's conventions (linear gain, log2(rank + 1) discount, ideal list from all
// judged documents of the query), for tests that score rankings against qrels.
export function ndcgAt(ranking: readonly string[], judged: ReadonlyMap<string, number>, k = 10): number {
  const dcg = ranking.slice(0, k).reduce((s, d, i) => s + Math.max(0, judged.get(d) ?? 0) / Math.log2(i + 2), 0);
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
  return idcg > 0 ? dcg / idcg : 0;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
