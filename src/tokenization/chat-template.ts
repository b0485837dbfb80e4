// Chat templates (the Jinja templates in tokenizer_config.json or a GGUF file's
// `tokenizer.chat_template`), rendered with @huggingface/jinja, the implementation transformers.js
// uses, with the variables transformers' apply_chat_template passes.
import { Template } from '@huggingface/jinja';
import { InputError } from '../utils/errors.js';

export interface ChatTemplateMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** Values of `bos_token`, `eos_token`, … inside the template. */
  specialTokens?: Record<string, string | null | undefined>;
  /** Names the template's origin in errors (file, metadata key). */
  source?: string;
}

export class ChatTemplate {
  private readonly template: Template;
  /** The special-token variables the template sees (bos_token, eos_token, …). */
  readonly specialTokens: Record<string, string>;
  readonly source: string;

  constructor(
    readonly text: string,
    opts: ChatTemplateOptions = {},
  ) {
    this.source = opts.source ?? '<chat template>';
    try {
      this.template = new Template(text);
    } catch (e) {
      throw new InputError(`cannot parse the chat template: ${(e as Error).message}`, { file: this.source });
    }
    this.specialTokens = Object.fromEntries(Object.entries(opts.specialTokens ?? {}).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  }

  /** The conversation as the model was trained to see it; `addGenerationPrompt` opens the assistant's turn. */
  render(messages: ChatTemplateMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    try {
      return this.template.render({ ...this.specialTokens, messages, add_generation_prompt: opts.addGenerationPrompt ?? false });
    } catch (e) {
      throw new InputError(`cannot render the chat template: ${(e as Error).message}`, { file: this.source });
    }
  }

  /**
   * The text before and after the content of the last message, e.g. ChatML's system turn +
   * `<|im_start|>user\n` and `<|im_end|>\n<|im_start|>assistant\n`: a prompt can then be built from
   * separately tokenized (and truncated) pieces. Throws when the template does not pass the content
   * through verbatim, exactly once.
   */
  wrap(messages: ChatTemplateMessage[], opts: { addGenerationPrompt?: boolean } = {}): { prefix: string; suffix: string } {
    const marker = '\u0000CONTENT\u0000';
    const last = messages.length - 1;
    if (last < 0) throw new Error('wrap: no messages');
    const text = this.render(
      messages.map((m, i) => (i === last ? { ...m, content: marker } : m)),
      opts,
    );
    const parts = text.split(marker);
    if (parts.length !== 2) {
      throw new InputError(`the chat template does not show the message content verbatim once (${parts.length - 1} times)`, { file: this.source });
    }
    return { prefix: parts[0], suffix: parts[1] };
  }
}
