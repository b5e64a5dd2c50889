/**
 * Runs a TypeScript script of test/children in a child Node process (`node --import tsx`), so that a
 * native crash (a segfault reading freed memory) fails the test that provoked it instead of killing
 * the vitest worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildExit {
  /** Exit code; null when a signal ended the process. */
  readonly code: number | null;
  /** The signal that ended it (e.g. SIGSEGV for a native crash), else null. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Milliseconds from spawn to exit. */
  readonly ms: number;
}

export interface ChildOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this many milliseconds; default 60 s. */
  readonly timeoutMs?: number;
  /** Called with the child and its stdout so far, on every stdout chunk. */
  readonly onStdout?: (child: ChildProcess, stdout: string) => void;
  /** Called with the child and its stderr so far, on every stderr chunk. */
  readonly onStderr?: (child: ChildProcess, stderr: string) => void;
}

/** `node --import tsx test/children/<script> ...args` in the repository, with its exit and output. */
export function runChild(script: string, args: readonly string[], options: ChildOptions = {}): Promise<ChildExit> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test', 'children', script), ...args], {
      cwd: repo,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(child, stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(child, stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start });
    });
  });
}

/** The last stdout line of a child that reports one JSON object. */
export function reportOf<T>(exit: ChildExit): T {
  const line = exit.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`child reported no JSON (code ${exit.code}, signal ${exit.signal}):\n${exit.stdout}\n${exit.stderr}`);
  }
}
