/**
 * `genie-ts chat` in a real terminal: a tmux pane (a pseudo-terminal) runs it on the embedded demo
 * model, keys go in with `send-keys`, the screen comes back with `capture-pane`. Ctrl-C in the middle
 * of a reply stops the reply, not the program; the up arrow recalls the last line; Ctrl-C twice at
 * the prompt, or Ctrl-D, exits with status 0. Skipped, saying so, where tmux is not installed.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoBundle } from '../../src/demo/index.js';
import { tempDir } from './fixtures.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cacheDir = join(tempDir('cli-chat-tty'), 'cache');
/** A tmux server of this test's own (its socket name), so nothing else's sessions are touched. */
const SOCKET = `genie-ts-chat-${process.pid}`;

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tmuxPresent = hasTmux();
if (!tmuxPresent) console.warn('chat-tty.test.ts: tmux is not installed; the pseudo-terminal tests of genie-ts chat are skipped');

const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });

/** Starts `genie-ts chat -n N` in a new pane; the pane prints EXIT=<status> when the chat ends. */
function startChat(session: string, maxTokens: number): void {
  const command =
    `GENIE_TS_CACHE_DIR='${cacheDir}' '${process.execPath}' --import tsx test/children/genie-ts.ts chat -n ${maxTokens}; ` +
    'echo EXIT=$?; sleep 60';
  tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', '-c', repo, command);
}

const screen = (session: string): string => tmux('capture-pane', '-p', '-J', '-t', session, '-S', '-200');

/** Polls the pane until `test` holds for its text (every 100 ms, up to `ms`). */
async function waitFor(session: string, test: (text: string) => boolean, what: string, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = screen(session);
    if (test(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the pane shows:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The lines of the pane that start with the prompt. */
const promptLines = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('> '));

describe.skipIf(!tmuxPresent)('genie-ts chat in a pseudo-terminal (tmux, demo model)', () => {
  beforeAll(async () => {
    await ensureDemoBundle({ cacheDir }); // built once, before the timed interactions
  }, 180_000);
  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left
    }
  });

  it('Ctrl-C mid-reply stops the reply and keeps the chat; up recalls the line; Ctrl-C twice at the prompt exits 0', async () => {
    const session = 'ctrl-c';
    startChat(session, 400); // ~400 tokens: many seconds of streaming unless stopped
    await waitFor(session, (text) => promptLines(text).length === 1, 'the first prompt');
    tmux('send-keys', '-t', session, 'Hello there', 'Enter');
    // The reply is streaming once text follows the echoed line.
    await waitFor(session, (text) => /> Hello there\n.{8,}/.test(text), 'the reply to start streaming');
    tmux('send-keys', '-t', session, 'C-c');
    const stopped = await waitFor(session, (text) => text.includes('[stopped]') && promptLines(text).length === 2, 'the stopped reply and a new prompt', 20_000);
    expect(stopped).not.toContain('EXIT=');

    tmux('send-keys', '-t', session, '/stats', 'Enter');
    const stats = await waitFor(session, (text) => text.includes('context used:'), '/stats');
    expect(stats).toContain('stop reason:             abort');
    const generated = Number(/generated tokens: +(\d+)/.exec(stats)![1]);
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(400);

    tmux('send-keys', '-t', session, 'Up', 'Up');
    await waitFor(session, (text) => promptLines(text).at(-1) === '> Hello there', 'the history to recall "Hello there"');
    tmux('send-keys', '-t', session, 'C-c');
    const armed = await waitFor(session, (text) => text.includes('(Ctrl-C again or Ctrl-D to exit)'), 'the exit hint');
    expect(armed).not.toContain('EXIT=');
    tmux('send-keys', '-t', session, 'C-c');
    await waitFor(session, (text) => text.includes('EXIT=0'), 'the chat to exit with status 0', 20_000);
  });

  it('Ctrl-D at the prompt exits 0', async () => {
    const session = 'ctrl-d';
    startChat(session, 3);
    await waitFor(session, (text) => promptLines(text).length === 1, 'the first prompt');
    tmux('send-keys', '-t', session, 'Hi', 'Enter');
    await waitFor(session, (text) => promptLines(text).length === 2, 'the reply and a new prompt');
    tmux('send-keys', '-t', session, 'C-d');
    await waitFor(session, (text) => text.includes('EXIT=0'), 'the chat to exit with status 0', 20_000);
  });
});
