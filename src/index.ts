// rankdistill: the public API. Everything a user imports comes from here.
export { initBackend, ensureBackend, currentBackend } from './backend/index.js';
export type { BackendInfo, BackendOptions, BackendPreference } from './backend/index.js';
export { InputError } from './utils/errors.js';
export type { InputLocation } from './utils/errors.js';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors } from './io/safetensors.js';
export type { SafetensorsFile, StoredTensor, TensorToWrite, SafetensorsDtype } from './io/safetensors.js';
