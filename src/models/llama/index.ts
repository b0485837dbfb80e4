// Llama-family decoder (LlamaForCausalLM-compatible): config, model, generation.
export * from './config.js';
export * from './model.js';
export * from './generation.js';
