export { SentenceCropper, augmentQueries, splitSentences, type QueryGenerator, type SentenceCropOptions, type AugmentedQuery } from './sentence-cropping.js';
