// How the trainer turns a training list into exactly `listSize` items: the best-labelled kept, the
// rest sampled, the kept items shuffled, padding masked.
import type { TrainingList } from '../data/lists.js';
import { SeededRandom } from '../utils/random.js';

/**
 * How a list longer than the list size is cut: `top` keeps the best-labelled items; `top-and-random`
 * keeps the best half and samples the rest (teacher order matters at the top, negatives vary);
 * `random` samples uniformly but always keeps the best item.
 */
export type ListSampling = 'top' | 'top-and-random' | 'random';

export interface PreparedList {
  docs: string[];
  labels: number[];
  /** 1 for real items, 0 for padding (docs of padding slots are ''). */
  mask: number[];
}

/** Cuts or pads a list to exactly `size` items. */
export function prepareList(list: TrainingList, size: number, rng: SeededRandom, sampling: ListSampling = 'top-and-random'): PreparedList {
  const idx = list.docs.map((_, i) => i).sort((a, b) => list.labels[b] - list.labels[a] || a - b);
  let keep: number[];
  if (idx.length <= size) keep = idx;
  else if (sampling === 'top') keep = idx.slice(0, size);
  else {
    const head = sampling === 'random' ? 1 : Math.ceil(size / 2);
    const rest = rng.shuffle(idx.slice(head)).slice(0, size - head);
    keep = [...idx.slice(0, head), ...rest];
  }
  // Shuffle kept items so position never encodes the label.
  keep = rng.shuffle(keep);
  const docs = keep.map((i) => list.docs[i]);
  const labels = keep.map((i) => list.labels[i]);
  const mask = keep.map(() => 1);
  while (docs.length < size) {
    docs.push('');
    labels.push(0);
    mask.push(0);
  }
  return { docs, labels, mask };
}
