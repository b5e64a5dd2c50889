/**
 * Releases native resources in the reverse order they were acquired (QNN requires FILO: contexts
 * before the device, the device before the backend, the backend before the log). Every release
 * runs even when an earlier one throws; the first failure is rethrown at the end.
 */
export class DisposalStack {
  private readonly releases: (() => void | Promise<void>)[] = [];

  /** Registers `release` to run when the stack is disposed, before everything deferred earlier. */
  defer(release: () => void | Promise<void>): void {
    this.releases.push(release);
  }

  /** Runs every release, newest first; afterwards the stack is empty. */
  async dispose(): Promise<void> {
    let failure: unknown;
    let failed = false;
    while (this.releases.length > 0) {
      const release = this.releases.pop()!;
      try {
        await release();
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
    if (failed) throw failure;
  }
}
