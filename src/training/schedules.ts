// Learning-rate schedules, as HF transformers' get_*_schedule_with_warmup: the multiplier of the
// base rate at optimiser step `step` (0-based, before the step is taken).

export type ScheduleName = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

export interface ScheduleOptions {
  name: ScheduleName;
  /** Total optimiser steps (linear and cosine decay to 0 at this step). */
  totalSteps: number;
  warmupSteps?: number;
  /** Cosine: number of half-waves (HF default 0.5 = decay to 0 once). */
  numCycles?: number;
}

export type Schedule = (step: number) => number;

export function makeSchedule(opts: ScheduleOptions): Schedule {
  const warm = Math.max(0, opts.warmupSteps ?? 0);
  const total = Math.max(1, opts.totalSteps);
  const warmup = (step: number) => (step < warm ? step / Math.max(1, warm) : null);
  switch (opts.name) {
    case 'constant':
      return () => 1;
    case 'constant_with_warmup':
      return (s) => warmup(s) ?? 1;
    case 'linear':
      return (s) => warmup(s) ?? Math.max(0, (total - s) / Math.max(1, total - warm));
    case 'cosine': {
      const cycles = opts.numCycles ?? 0.5;
      return (s) => {
        const w = warmup(s);
        if (w !== null) return w;
        const progress = (s - warm) / Math.max(1, total - warm);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
      };
    }
    default:
      throw new Error(`unknown schedule '${(opts as { name: string }).name}' (constant, constant_with_warmup, linear, cosine)`);
  }
}
