// Name → loss factory. Built-in losses register themselves on import; users add their own with
// registerLoss (see examples/custom-loss.ts).
import type { LossFactory, LossInfo, RankingLoss } from './types.js';
import { builtinLosses } from './builtin.js';
import { InputError } from '../utils/errors.js';

const registry = new Map<string, LossInfo>();

/**
 * Adds a loss under `name` (case-insensitive). The factory gets the options object given to getLoss
 * (e.g. a trainer config's lossOptions) and returns the loss function; see examples/custom-loss.ts.
 */
export function registerLoss(name: string, factory: LossFactory, info: Partial<Omit<LossInfo, 'name' | 'factory'>> = {}): void {
  const key = name.toLowerCase();
  if (!/^[a-z0-9_\-.]+$/.test(key)) throw new Error(`loss name '${name}' must use only letters, digits, '_', '-' and '.'`);
  if (registry.has(key)) throw new Error(`loss '${name}' is already registered`);
  registry.set(key, { name: key, description: info.description ?? '', source: info.source ?? '', factory });
}

/** The loss registered as `name`, built with `options`; unknown names and options throw an InputError. */
export function getLoss(name: string, options?: object): RankingLoss {
  const info = registry.get(name.toLowerCase());
  if (!info) throw new InputError(`unknown loss '${name}'; known: ${[...registry.keys()].sort().join(', ')}`, { field: 'loss' });
  return info.factory(options);
}

export function listLosses(): LossInfo[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

for (const l of builtinLosses) registerLoss(l.name, l.factory, l);
