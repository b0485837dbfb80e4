// Mocha root hooks: initialise the backend once (RANKDISTILL_BACKEND picks it; CI expects native).
import { initBackend } from '../src/backend/index.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120000);
    await initBackend();
  },
};
