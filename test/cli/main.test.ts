import { describe, expect, it } from 'vitest';
import { cli } from './fixtures.js';

const COMMANDS = /commands:\n {2}run .*\n {2}demo .*\n {2}export .*\n {2}config check FILE/;

describe('genie-ts main', () => {
  it('--help and -h print the usage on stdout and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await cli([flag]);
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(result.stdout).toMatch(/^usage: genie-ts <command> \[options\]\n/);
      expect(result.stdout).toMatch(COMMANDS);
    }
  });

  it('no command: the usage on stderr (not stdout) and exit 2', async () => {
    const result = await cli([]);
    expect([result.code, result.stdout]).toEqual([2, '']);
    expect(result.stderr).toMatch(/^usage: genie-ts <command> \[options\]\n/);
    expect(result.stderr).toMatch(COMMANDS);
  });

  it('an unknown command: named on stderr with the usage, exit 2', async () => {
    const result = await cli(['nope', '-p', 'x']);
    expect([result.code, result.stdout]).toEqual([2, '']);
    expect(result.stderr).toMatch(/^genie-ts: unknown command "nope"\nusage: genie-ts <command> \[options\]\n/);
  });

  it('dispatches to the command with the remaining arguments', async () => {
    const run = await cli(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: genie-ts run /);
    const config = await cli(['config', '--help']);
    expect(config.code).toBe(0);
    expect(config.stdout).toMatch(/^usage: genie-ts config check FILE/);
  });
});
