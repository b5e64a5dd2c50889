import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { GenieError, isSystemError, systemErrorReason } from '../../errors.js';
import { ensureDemoBundle } from '../../demo/index.js';
import type { ChatMessage } from '../../runtime/chat-template.js';
import { ConfigError } from '../../runtime/config/index.js';
import { Dialog, type QueryResult } from '../../runtime/dialog.js';
import { parseCommandArgs, parseFlags, parseIntegerFlag, UsageError } from '../flags.js';
import type { CliIO, Command } from '../io.js';

const USAGE = `usage: genie-ts chat [-c CONFIG] [--system TEXT] [-n N]

An interactive chat on a Genie dialog config (default: the embedded demo model, random weights:
its replies are gibberish by design). Each line you type is a user turn; the conversation is
rendered with the model's chat template and only what the KV cache lacks is fed (Dialog.chat).

  -c, --config FILE      Genie JSON config (default: the embedded demo model)
  --system TEXT          a system message opening the conversation
  -n, --max-tokens N     cap each reply at N tokens (default: the config's max-num-tokens)
  -h, --help             this help

In the chat:
  /reset                 forget the conversation (the system message stays)
  /save DIR              save the conversation (the dialog's KV cache and the messages) to DIR
  /load DIR              continue a conversation saved with /save
  /stats                 the last reply's KPIs
  /help                  these commands
Ctrl-C stops a reply; at the prompt, Ctrl-C twice or Ctrl-D exits. Up/down recall earlier lines.
With piped input each line is a turn and each reply is printed on its own line; the chat ends at
the end of the input (exit status 0).
`;

const HELP = `/reset       forget the conversation (the system message stays)
/save DIR    save the conversation to DIR
/load DIR    continue a conversation saved with /save
/stats       the last reply's KPIs
/help        these commands
Ctrl-C stops a reply; Ctrl-C twice or Ctrl-D at the prompt exits.
`;

/** The messages of a chat save, beside the dialog's own files (`run -r DIR` restores the dialog alone). */
const MESSAGES_FILE = 'chat.json';
/** Lines recalled with the up arrow. */
const HISTORY_SIZE = 200;

interface ChatArgs {
  readonly help: boolean;
  readonly config?: string;
  readonly system?: string;
  readonly maxTokens?: number;
}

function parseChatArgs(args: readonly string[]): ChatArgs {
  const { values, positionals } = parseFlags(args, [
    { name: 'config', kind: 'value', aliases: ['-c'] },
    { name: 'system', kind: 'value' },
    { name: 'max-tokens', kind: 'value', aliases: ['-n'] },
    { name: 'help', kind: 'boolean', aliases: ['-h'] },
  ]);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (type your messages in the chat)`);
  const maxTokens = values.get('max-tokens');
  const n = maxTokens === undefined ? undefined : parseIntegerFlag('--max-tokens', maxTokens as string);
  if (n !== undefined && n < 1) throw new UsageError(`--max-tokens must be at least 1, got ${n}`);
  return {
    help: values.has('help'),
    config: values.get('config') as string | undefined,
    system: values.get('system') as string | undefined,
    maxTokens: n,
  };
}

/**
 * One chat session: the dialog, the conversation's messages, the reply being streamed (its abort
 * controller) and the terminal's line editor.
 */
class ChatSession {
  private messages: ChatMessage[];
  private answering: AbortController | null = null;
  /** Ctrl-C was pressed at the prompt: a second one exits. */
  private exitArmed = false;
  private lastResult: QueryResult | undefined;

  constructor(
    private readonly dialog: Dialog,
    private readonly io: CliIO,
    private readonly rl: Interface,
    private readonly interactive: boolean,
    private readonly args: ChatArgs,
  ) {
    this.messages = this.opening();
  }

  /** Reads turns until the input ends (Ctrl-D, end of the piped input) or Ctrl-C twice at the prompt. */
  async run(): Promise<void> {
    const lines = this.rl[Symbol.asyncIterator]();
    for (;;) {
      if (this.interactive) this.rl.prompt();
      const next = await lines.next();
      if (next.done) break;
      this.exitArmed = false;
      const line = next.value.trim();
      if (line === '') continue;
      if (line.startsWith('/')) await this.command(line);
      else await this.answer(line);
    }
    if (this.interactive) this.io.stdout('\n');
  }

  /** Ctrl-C: stops the reply being streamed; at the prompt, arms the exit, and exits when armed. */
  interrupt(): void {
    if (this.answering !== null) {
      this.answering.abort();
      return;
    }
    if (this.exitArmed) {
      this.rl.close();
      return;
    }
    this.exitArmed = true;
    if (!this.interactive) return;
    this.rl.write(null, { ctrl: true, name: 'u' }); // drop the half-typed line
    this.io.stdout('\n(Ctrl-C again or Ctrl-D to exit)\n');
    this.rl.prompt();
  }

  private opening(): ChatMessage[] {
    return this.args.system === undefined ? [] : [{ role: 'system', content: this.args.system }];
  }

  private async answer(text: string): Promise<void> {
    const turn = [...this.messages, { role: 'user', content: text }];
    const abort = new AbortController();
    this.answering = abort;
    let reply = '';
    try {
      const stream = this.dialog.chat(turn, { signal: abort.signal, ...(this.args.maxTokens !== undefined && { maxTokens: this.args.maxTokens }) });
      for await (const piece of stream) {
        reply += piece;
        this.io.stdout(piece);
      }
      this.lastResult = await stream.result;
      if (this.lastResult.stopReason === 'abort' && this.interactive) this.io.stdout(' [stopped]');
    } catch (error) {
      this.io.stdout('\n');
      if (!(error instanceof GenieError)) throw error;
      this.io.stderr(`genie-ts chat: ${error.message}\n`);
      if (this.dialog.lastResult !== undefined) this.lastResult = this.dialog.lastResult;
      return; // the turn did not complete: the conversation stays as it was (the next turn rewinds the cache to it)
    } finally {
      this.answering = null;
    }
    this.io.stdout('\n');
    // What was generated is in the KV cache: keeping it as the reply lets the next turn reuse it.
    this.messages = [...turn, { role: 'assistant', content: reply }];
  }

  private async command(line: string): Promise<void> {
    const [name, ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    try {
      switch (name) {
        case '/reset':
          this.dialog.reset();
          this.messages = this.opening();
          this.lastResult = undefined;
          this.io.stdout('(conversation cleared)\n');
          return;
        case '/save':
          await this.save(this.folderArg(name, arg));
          return;
        case '/load':
          await this.load(this.folderArg(name, arg));
          return;
        case '/stats':
          this.io.stdout(this.stats());
          return;
        case '/help':
          this.io.stdout(HELP);
          return;
        default:
          this.io.stderr(`genie-ts chat: unknown command ${name} (/help lists them)\n`);
      }
    } catch (error) {
      if (!(error instanceof GenieError) && !isSystemError(error)) throw error;
      this.io.stderr(`genie-ts chat: ${name}: ${isSystemError(error) ? systemErrorReason(error) : error.message}\n`);
    }
  }

  private folderArg(name: string, arg: string): string {
    if (arg === '') throw new UsageError(`needs a folder (${name} DIR)`);
    return arg;
  }

  private async save(dir: string): Promise<void> {
    await this.dialog.save(dir);
    await writeFile(join(dir, MESSAGES_FILE), `${JSON.stringify({ messages: this.messages }, null, 1)}\n`);
    this.io.stdout(`(saved ${this.messages.length} messages, ${this.dialog.contextUsed} tokens to ${dir})\n`);
  }

  /** The messages are read and checked first, so that a folder that is no chat save changes nothing. */
  private async load(dir: string): Promise<void> {
    const path = join(dir, MESSAGES_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (!isSystemError(error)) throw error;
      throw new UsageError(`"${dir}" is not a chat save: cannot read ${MESSAGES_FILE} (${systemErrorReason(error)})`);
    }
    const messages = parseMessages(text, path);
    await this.dialog.restore(dir);
    this.messages = messages;
    this.lastResult = undefined;
    this.io.stdout(`(loaded ${messages.length} messages, ${this.dialog.contextUsed} tokens from ${dir})\n`);
  }

  private stats(): string {
    const result = this.lastResult;
    if (result === undefined) return '(no reply yet)\n';
    const k = result.kpis;
    return (
      `stop reason:             ${result.stopReason}\n` +
      `prompt tokens fed:       ${k['num-prompt-tokens']} (reused from the cache: ${result.reusedTokens})\n` +
      `generated tokens:        ${k['num-generated-tokens']}\n` +
      `time to first token:     ${(k['time-to-first-token'] / 1e3).toFixed(1)} ms\n` +
      `prompt processing rate:  ${k['prompt-processing-rate'].toFixed(1)} tokens/s\n` +
      `token generation rate:   ${k['token-generation-rate'].toFixed(1)} tokens/s\n` +
      `context used:            ${this.dialog.contextUsed} of ${this.dialog.contextLimit} tokens\n`
    );
  }
}

/** chat.json: `{ messages: [{ role, content }, ...] }` with string roles and contents. */
function parseMessages(text: string, path: string): ChatMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not JSON: ${(error as Error).message}`);
  }
  const messages = (parsed as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) throw new UsageError(`${path}: "messages" must be an array of { role, content }`);
  messages.forEach((m: unknown, i) => {
    const { role, content } = (m ?? {}) as Partial<ChatMessage>;
    if (typeof role !== 'string' || typeof content !== 'string') {
      throw new UsageError(`${path}: messages[${i}] must be { role, content } with string values`);
    }
  });
  return messages as ChatMessage[];
}

export const chatCommand: Command = async (args, io) => {
  const parsed = parseCommandArgs('chat', USAGE, args, io, parseChatArgs);
  if (typeof parsed === 'number') return parsed;
  let dialog: Dialog;
  try {
    let configPath = parsed.config;
    if (configPath === undefined) {
      const bundle = await ensureDemoBundle({ onProgress: (message) => io.isTTY && io.stderr(`\r\x1b[2Kgenie-ts: ${message}`) });
      if (io.isTTY) io.stderr('\r\x1b[2K');
      configPath = bundle.configPath;
    }
    dialog = await Dialog.create(configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`genie-ts chat: ${error.file ?? parsed.config}:\n${error.issues.map((i) => `  ${i.path}: ${i.message}\n`).join('')}`);
      return 1;
    }
    if (error instanceof GenieError || isSystemError(error)) {
      io.stderr(`genie-ts chat: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const interactive = Boolean(process.stdin.isTTY);
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: interactive,
    prompt: '> ',
    historySize: HISTORY_SIZE,
  });
  const session = new ChatSession(dialog, io, rl, interactive, parsed);
  const interrupt = (): void => session.interrupt();
  rl.on('SIGINT', interrupt); // a terminal's Ctrl-C (raw mode: readline reads it as a key)
  process.on('SIGINT', interrupt); // a signal (piped input, kill -INT)
  if (interactive) io.stdout(`genie-ts chat (${dialog.config.backendType}, context ${dialog.contextLimit} tokens); /help for commands\n`);
  try {
    await session.run();
    return 0;
  } finally {
    process.removeListener('SIGINT', interrupt);
    rl.close();
    await dialog.dispose();
  }
};
