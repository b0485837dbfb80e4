export {
  DEFAULT_SELECTION,
  SELECT_REASON_NAMES,
  SelectReason,
  selectTokens,
  selectTokensFromTensor,
  specialTokenIds,
  type SelectionTokens,
  type TokenSelection,
  type TokenSelectionConfig,
} from './selection.js';
export { TermControlLayer, type TclPooling, type TermControlLayerConfig } from './tcl.js';
export { RraBert, RRA_CONFIG_FILE, TCL_WEIGHTS_FILE, type InspectedToken, type RraBatch, type RraBertConfig, type RraBertOptions } from './model.js';
