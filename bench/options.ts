// Benchmark settings from --flags, falling back to environment variables, then defaults.
import { parseArgs } from 'node:util';

export function benchOptions(names: string[]) {
  const { values: flags } = parseArgs({ options: Object.fromEntries(names.map((k) => [k, { type: 'string' as const }])) });
  const opt = (flag: string, envName: string, dflt: string): string => (flags[flag] as string | undefined) ?? process.env[envName] ?? dflt;
  const num = (flag: string, envName: string, dflt: number): number => {
    const v = Number(opt(flag, envName, String(dflt)));
    if (!Number.isFinite(v)) throw new Error(`--${flag} / ${envName} must be a number`);
    return v;
  };
  return { opt, num };
}
