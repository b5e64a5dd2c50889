/**
 * Child of test/runtime/dialog-dispose.test.ts: opens the dialog of config `argv[2]` (on the
 * simulated HTP provider when its backend is QnnHtp), starts a long query and disposes the dialog
 * from a `argv[3]` ms timer set when the query starts (`argv[4]` = `start`, the prefill) or when its
 * first token is sampled (`first-token`, the decode loop). Reports one JSON line: how the query ended and how many tokens were
 * sampled before and after the dispose. Before the fix, QnnHtp crashed here (SIGSEGV): the step
 * finished after dispose and read IO buffers the QNN session had freed.
 */
import { Dialog } from '../../src/runtime/dialog.js';

const [configPath, delayText, from] = process.argv.slice(2);
const dialog = await Dialog.create(configPath, { backend: { qnn: { provider: 'simulated' } } });
let sampled = 0;
let sampledAtDispose = -1;
let disposeResolved = false;
const started = Date.now();
let disposedAfterMs = -1;
let disposal: Promise<void> | undefined;
const armTimer = (): void =>
  void setTimeout(() => {
    sampledAtDispose = sampled;
    disposedAfterMs = Date.now() - started;
    disposal = dialog.dispose().then(() => void (disposeResolved = true));
  }, Number(delayText));
if (from === 'start') armTimer();

let outcome: string;
let message = '';
try {
  const stream = dialog.tokenQuery([1, 2, 3, 4, 5], { onLogits: () => void (++sampled === 1 && from === 'first-token' && armTimer()) });
  for (;;) {
    const next = await stream.next();
    if (next.done) {
      outcome = `done: ${next.value.stopReason}`;
      break;
    }
  }
} catch (error) {
  outcome = (error as Error).constructor.name;
  message = (error as Error).message;
}
await disposal;
process.stdout.write(`${JSON.stringify({ outcome, message, sampledAtDispose, sampled, disposedAfterMs, disposeResolved })}\n`);
