/**
 * `genie-ts chat` with piped stdin (one user turn per line, each reply on its own line, exit 0 at
 * the end of the input), in a child process on the embedded demo model. The oracle is the library:
 * `Dialog.chat` over the same conversation, reply by reply. Slash commands: `/save` then `/load` in
 * a fresh process continues the conversation exactly; bad commands and bad folders print a message
 * and the chat goes on.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/runtime/chat-template.js';
import { ensureDemoBundle } from '../../src/demo/index.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { tempDir } from './fixtures.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const root = tempDir('cli-chat');
const cacheDir = join(root, 'cache');
const MAX_TOKENS = 5;
const SYSTEM = 'You are terse.';

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `genie-ts chat ARGS` on the sources with `input` piped to its stdin. */
function chat(input: string, args: readonly string[] = []): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repo, 'test', 'children', 'genie-ts.ts'), 'chat', '-n', String(MAX_TOKENS), '--system', SYSTEM, ...args],
      { cwd: repo, env: { ...process.env, GENIE_TS_CACHE_DIR: cacheDir }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/**
 * The replies `Dialog.chat` gives to `turns`, one after the other, on a fresh dialog of the demo
 * model; a turn `null` is a `reset()` (the conversation forgotten, the sampler's random sequence not).
 */
async function libraryReplies(configPath: string, turns: readonly (string | null)[]): Promise<string[]> {
  const dialog = await Dialog.create(configPath);
  try {
    let messages: ChatMessage[] = [{ role: 'system', content: SYSTEM }];
    const replies: string[] = [];
    for (const turn of turns) {
      if (turn === null) {
        dialog.reset();
        messages = [{ role: 'system', content: SYSTEM }];
        continue;
      }
      messages.push({ role: 'user', content: turn });
      let reply = '';
      for await (const piece of dialog.chat(messages, { maxTokens: MAX_TOKENS })) reply += piece;
      messages.push({ role: 'assistant', content: reply });
      replies.push(reply);
    }
    return replies;
  } finally {
    await dialog.dispose();
  }
}

describe('genie-ts chat with piped stdin (child process, demo model)', () => {
  let replies: string[];
  let afterReset: string[];

  beforeAll(async () => {
    const bundle = await ensureDemoBundle({ cacheDir });
    replies = await libraryReplies(bundle.configPath, ['Hello there', 'And then?', 'Tell me more']);
    afterReset = await libraryReplies(bundle.configPath, ['And then?', null, 'Hello there']);
  }, 180_000);

  it('one turn per line, each reply on its own line as the library gives it, exit 0 at the end of the input', async () => {
    const exit = await chat('Hello there\n\nAnd then?\nTell me more\n');
    expect(exit).toEqual({ code: 0, stdout: `${replies.join('\n')}\n`, stderr: '' });
  });

  it('/save, then /load in a fresh process: the conversation continues exactly as without the break', async () => {
    const dir = join(root, 'saved');
    const first = await chat(`Hello there\n/save ${dir}\n`);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(`${replies[0]}\n(saved 3 messages, ${first.stdout.match(/, (\d+) tokens/)![1]} tokens to ${dir})\n`);
    const second = await chat(`/load ${dir}\nAnd then?\n/stats\n`);
    expect(second.stderr).toBe('');
    const [loaded, reply, ...stats] = second.stdout.split('\n');
    expect(loaded).toMatch(new RegExp(`^\\(loaded 3 messages, \\d+ tokens from ${dir}\\)$`));
    expect(reply).toBe(replies[1]);
    expect(stats[0]).toBe('stop reason:             max-tokens');
    expect(stats[2]).toBe(`generated tokens:        ${MAX_TOKENS}`);
    expect(second.code).toBe(0);
  });

  it('/reset forgets the conversation as Dialog.reset() does', async () => {
    const exit = await chat('And then?\n/reset\nHello there\n');
    expect(exit).toEqual({ code: 0, stdout: `${afterReset[0]}\n(conversation cleared)\n${afterReset[1]}\n`, stderr: '' });
  });

  it('an unknown command, /save and /load without a folder, a folder that is no save or a corrupt one: a message each, the chat goes on', async () => {
    const corrupt = join(root, 'corrupt');
    mkdirSync(corrupt, { recursive: true });
    writeFileSync(join(corrupt, 'chat.json'), JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }));
    writeFileSync(join(corrupt, 'dialog.json'), '{ not json');
    const badMessages = join(root, 'bad-messages');
    mkdirSync(badMessages, { recursive: true });
    writeFileSync(join(badMessages, 'chat.json'), JSON.stringify({ messages: [{ role: 1 }] }));
    const missing = join(root, 'missing');
    const exit = await chat(`/bogus\n/save\n/load\n/load ${missing}\n/load ${badMessages}\n/load ${corrupt}\nHello there\n`);
    const errors = exit.stderr.split('\n');
    expect(errors.slice(0, 5)).toEqual([
      'genie-ts chat: unknown command /bogus (/help lists them)',
      'genie-ts chat: /save: needs a folder (/save DIR)',
      'genie-ts chat: /load: needs a folder (/load DIR)',
      `genie-ts chat: /load: "${missing}" is not a chat save: cannot read chat.json (ENOENT: no such file or directory)`,
      `genie-ts chat: /load: ${join(badMessages, 'chat.json')}: messages[0] must be { role, content } with string values`,
    ]);
    expect(errors[5]).toMatch(/^genie-ts chat: \/load: .*corrupt/);
    expect(exit.stdout).toBe(`${replies[0]}\n`);
    expect(exit.code).toBe(0);
  });

  it('/help lists the commands; --help the usage', async () => {
    const exit = await chat('/help\n');
    expect(exit.stdout).toMatch(/^\/reset +forget the conversation/);
    for (const command of ['/save DIR', '/load DIR', '/stats', '/help']) expect(exit.stdout).toContain(command);
    const help = await chat('', ['--help']);
    expect(help).toEqual({ code: 0, stdout: expect.stringMatching(/^usage: genie-ts chat \[-c CONFIG\] \[--system TEXT\]/), stderr: '' });
  });
});
