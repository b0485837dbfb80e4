// Where tests leave files for a person to look at (screenshots, generated snippets): test-output/
// (git-ignored), or $TEST_OUTPUT_DIR.
import path from 'node:path';

export const TEST_OUTPUT = path.resolve(process.env.TEST_OUTPUT_DIR ?? 'test-output');
