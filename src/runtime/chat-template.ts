import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { GenieError, InvalidArgumentError, isSystemError, systemErrorReason } from '../errors.js';
import { describeValue } from './check-options.js';

/** One message of a conversation, as Hugging Face chat templates take it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** A chat template that cannot be read, parsed or rendered. */
export class ChatTemplateError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CHAT_TEMPLATE', message, options);
  }
}

/** The file Hugging Face keeps a tokenizer's chat template in, beside `tokenizer.json`. */
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** tokenizer_config.json files are a few hundred kilobytes at most (their added-token tables). */
const MAX_TOKENIZER_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * A Hugging Face chat template (Jinja, rendered with @huggingface/jinja): turns a conversation into
 * the templated prompt the model was trained on (Genie applies none; `Dialog.chat` does).
 */
export class ChatTemplate {
  private readonly template: Template;
  private readonly specials: Readonly<Record<string, string>>;

  /**
   * @param source the template text
   * @param specials values the template may read besides the messages (`bos_token`, `eos_token`)
   * @throws ChatTemplateError when the template does not parse
   */
  constructor(
    readonly source: string,
    specials: Readonly<Record<string, string>> = {},
    private readonly origin = 'the chat template',
  ) {
    try {
      this.template = new Template(source);
    } catch (cause) {
      throw new ChatTemplateError(`${origin} does not parse: ${(cause as Error).message}`, { cause });
    }
    this.specials = specials;
  }

  /**
   * The chat template of a `tokenizer_config.json` beside `tokenizerPath` (its `chat_template`: a
   * string, or the `default` entry of a list of named templates); null when there is no such file or
   * it has no template.
   * @throws ChatTemplateError for a file that cannot be read or is not a JSON object, or a template that does not parse
   */
  static beside(tokenizerPath: string): ChatTemplate | null {
    const path = join(dirname(tokenizerPath), TOKENIZER_CONFIG_FILE);
    const text = readTextFile(path);
    if (text === null) return null;
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (cause) {
      throw new ChatTemplateError(`${path} is not JSON: ${(cause as Error).message}`, { cause });
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ChatTemplateError(`${path} is not a JSON object`);
    const record = config as Record<string, unknown>;
    const source = templateSource(record.chat_template, path);
    if (source === null) return null;
    const specials: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const value = tokenText(record[key]);
      if (value !== undefined) specials[key] = value;
    }
    return new ChatTemplate(source, specials, `the chat_template of ${path}`);
  }

  /**
   * The templated prompt of `messages`, ending with the assistant's turn opened when
   * `addGenerationPrompt` (default true).
   * @throws InvalidArgumentError for messages that are not `{ role, content }` strings;
   * ChatTemplateError when rendering fails (e.g. the template's own `raise_exception`)
   */
  render(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    checkMessages(messages);
    try {
      return this.template.render({ ...this.specials, messages, add_generation_prompt: addGenerationPrompt });
    } catch (cause) {
      throw new ChatTemplateError(`${this.origin} failed to render the conversation: ${(cause as Error).message}`, { cause });
    }
  }
}

function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidArgumentError(`messages must be a non-empty array of { role, content }, got ${describeValue(messages)}`);
  }
  messages.forEach((m: unknown, i) => {
    const message = m as Partial<ChatMessage> | null;
    if (typeof message !== 'object' || message === null || typeof message.role !== 'string' || typeof message.content !== 'string') {
      throw new InvalidArgumentError(`messages[${i}] must be { role: string, content: string }, got ${describeValue(m)}`);
    }
  });
}

/** `chat_template` as tokenizer_config.json files hold it: a string, or named templates (`default` is used). */
function templateSource(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const entry = value.find((t: unknown) => (t as { name?: unknown } | null)?.name === 'default') as { template?: unknown } | undefined;
    if (entry !== undefined && typeof entry.template === 'string') return entry.template;
  }
  throw new ChatTemplateError(`${path}: chat_template must be a string or a list with a "default" template, got ${describeValue(value)}`);
}

/** A special token as tokenizer_config.json writes it: a string or `{ content }`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
}

/** The file's text (bounded, regular files only); null when it does not exist. */
function readTextFile(path: string): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ChatTemplateError(`${path} is not a regular file`);
    if (stat.size > MAX_TOKENIZER_CONFIG_BYTES) throw new ChatTemplateError(`${path} has ${stat.size} bytes, more than a tokenizer config can mean`);
    const bytes = Buffer.alloc(stat.size);
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return bytes.subarray(0, at).toString('utf8');
  } catch (error) {
    if (error instanceof ChatTemplateError) throw error;
    if (isSystemError(error) && error.code === 'ENOENT') return null;
    if (isSystemError(error)) throw new ChatTemplateError(`cannot read ${path}: ${systemErrorReason(error)}`, { cause: error });
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
