// Training: the Trainer (lists → micro-batches → loss → accumulated, clipped gradients → AdamW, with
// evaluation, checkpoints, resume and logs), its list sampling, optimiser and schedules.
export { Trainer, NonFiniteLossError, TrainingInterruptedError, verifyCheckpoint } from './trainer.js';
export type { TrainerConfig, TrainResult, Grads } from './trainer.js';
export { prepareList } from './list-sampling.js';
export type { ListSampling, PreparedList } from './list-sampling.js';
export { AdamW, clipByGlobalNorm, defaultDecay } from './optimizer.js';
export type { AdamWOptions, OptimizerState } from './optimizer.js';
export { makeSchedule } from './schedules.js';
export type { Schedule, ScheduleName, ScheduleOptions } from './schedules.js';
