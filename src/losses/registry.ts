// Name → loss factory. Built-in losses register themselves on import; users add their own with
// registerLoss (see examples/custom-loss.ts).
import type { LossFactory, LossInfo, RankingLoss } from './types.js';
import { builtinLosses } from './builtin.js';

const registry = new Map<string, LossInfo>();

export function registerLoss(name: string, factory: LossFactory, info: Partial<Omit<LossInfo, 'name' | 'factory'>> = {}): void {
  const key = name.toLowerCase();
  if (registry.has(key)) throw new Error(`loss '${name}' is already registered`);
  registry.set(key, { name: key, description: info.description ?? '', source: info.source ?? '', factory });
}

export function getLoss(name: string, options?: object): RankingLoss {
  const info = registry.get(name.toLowerCase());
  if (!info) throw new Error(`unknown loss '${name}'; known: ${[...registry.keys()].sort().join(', ')}`);
  return info.factory(options);
}

export function listLosses(): LossInfo[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

for (const l of builtinLosses) registerLoss(l.name, l.factory, l);
