// RRA-GPT: decoder-only ranker with a ranking layer, trained jointly with relevance classification and reasons.
export * from './ranker.js';
export * from './reasons.js';
export * from './frozen-cache.js';
