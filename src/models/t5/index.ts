// T5 family: the encoder-decoder, its config, generation, and the monoT5 / RankT5 / TWOLAR rankers.
export * from './config.js';
export * from './model.js';
export * from './generation.js';
export * from './rankers.js';
