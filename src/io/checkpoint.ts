// The files of an HF checkpoint directory, with errors that say what is there instead.
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../utils/errors.js';

/** `config.json` and `model.safetensors` of `dir`; a clear error when either is missing. */
export function checkpointFiles(dir: string): { configFile: string; weightsFile: string } {
  const configFile = path.join(dir, 'config.json');
  const weightsFile = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(configFile)) throw new InputError('config.json not found', { file: dir });
  if (!fs.existsSync(weightsFile)) {
    const alt = fs.existsSync(path.join(dir, 'pytorch_model.bin'))
      ? ' (only pytorch_model.bin is there: convert it to safetensors)'
      : fs.existsSync(path.join(dir, 'model.safetensors.index.json'))
        ? ' (sharded checkpoints are not supported: merge the shards)'
        : '';
    throw new InputError(`model.safetensors not found${alt}`, { file: dir });
  }
  return { configFile, weightsFile };
}

/** True when `dir` holds a tokenizer the TextTokenizer can load (tokenizer.json, or vocab.txt for BERT). */
export function hasTokenizer(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'tokenizer.json')) || fs.existsSync(path.join(dir, 'vocab.txt'));
}
