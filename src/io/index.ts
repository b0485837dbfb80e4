// Checkpoint files: safetensors read and written as transformers does, GGUF files (llama.cpp) and their
// ggml dequantisers, JSON with line:column errors, the files of an HF checkpoint folder.
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors } from './safetensors.js';
export type { SafetensorsFile, StoredTensor, TensorToWrite, SafetensorsDtype } from './safetensors.js';
export { parseJson, readJsonObject, locateJsonError, lineColumn } from './json.js';
export { checkpointFiles, hasTokenizer } from './checkpoint.js';
export { GGUFFile, GGUFValueType, isGgufFile } from './gguf.js';
export type { GGUFTensorInfo, GGUFMetadataEntry, GGUFValue, GGUFScalar } from './gguf.js';
export { GGMLType, GGML_BLOCK, DEQUANTIZABLE, dequantize, canDequantize, ggmlTypeName, ggmlByteSize } from './gguf-quants.js';
