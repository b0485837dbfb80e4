// Shared utilities: input errors that name the file, line and field; the progress line; the seeded
// random stream behind every shuffle and sample.
export { InputError } from './errors.js';
export type { InputLocation } from './errors.js';
export { Progress } from './progress.js';
export type { ProgressOptions } from './progress.js';
export { SeededRandom } from './random.js';
export { libraryVersion } from './version.js';
