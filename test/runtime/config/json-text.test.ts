import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError, ConfigFileError, configWarnings, loadConfigFile, parseConfigText, unsupportedValues,
} from '../../../src/runtime/config/index.js';
import { dialog } from './fixtures.js';

/** 1-based line:column of the n-th occurrence of `needle`, found by scanning the lines (independent of the code under test). */
function positionOf(text: string, needle: string, occurrence = 1): string {
  let seen = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let from = 0;
    for (;;) {
      const at = lines[i].indexOf(needle, from);
      if (at < 0) break;
      if (++seen === occurrence) return `${i + 1}:${at + 1}`;
      from = at + 1;
    }
  }
  throw new Error(`"${needle}" not found`);
}

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function fileErrorOf(run: () => unknown): ConfigFileError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return error as ConfigFileError;
  }
  throw new Error('expected a ConfigFileError');
}

describe('duplicate keys', () => {
  it('a repeated root key is an error with the path and line:column of both occurrences (Genie\'s parse callback)', () => {
    const body = JSON.stringify(dialog());
    const text = `{"dialog": ${body},\n "dialog": ${body}}`;
    const error = configErrorOf(() => parseConfigText(text));
    expect(error.issues).toEqual([
      {
        path: 'dialog',
        message: `duplicate key at ${positionOf(text, '"dialog"', 2)} (first at ${positionOf(text, '"dialog"', 1)}); Genie rejects a repeated root key`,
      },
    ]);
  });

  it('a key repeated deeper is a warning: Genie, like JSON.parse, keeps the last value', () => {
    const text = JSON.stringify({ dialog: dialog() }, null, 2).replace('"size": 4096,', '"size": 4096,\n      "size": 2048,');
    const config = parseConfigText(text);
    if (config.root !== 'dialog') throw new Error('expected a dialog');
    expect(config.dialog.context.size).toBe(2048);
    expect(configWarnings(config)).toEqual([
      {
        path: 'dialog.context.size',
        message: `duplicate key at ${positionOf(text, '"size"', 2)} (first at ${positionOf(text, '"size"', 1)}); the last value is used, as Genie does`,
      },
    ]);
    expect(unsupportedValues(config)).toEqual([]);
  });

  it('compare decoded keys, and work inside arrays and at the top level', () => {
    const text = '{"profile": {"version": 1},\n "profile": {"version": 1, "trace": {"version": 1, "en\\u0061ble": true, "enable": false}}}';
    const error = configErrorOf(() => parseConfigText(text));
    expect(error.issues.map((issue) => issue.path)).toEqual(['profile']);

    const nested = parseConfigText('{"profile": {"version": 1, "trace": {"version": 1, "en\\u0061ble": true, "enable": false}}}');
    expect(configWarnings(nested).map((w) => w.path)).toEqual(['profile.trace.enable']);

    const d = dialog();
    d.type = 'spd';
    d.spd = { version: 1, 'draft-len': 4 };
    const engines = [{ ...d.engine, role: 'draft' }, { ...d.engine, role: 'target' }];
    const arrayText = JSON.stringify({ dialog: { ...d, engine: engines } }).replace('"role":"target"', '"role":"target","n-threads":2');
    expect(configWarnings(parseConfigText(arrayText)).map((w) => w.path)).toEqual(['dialog.engine[1].n-threads']);
  });

  it('a repeated root key of a pipeline node config is a warning (Genie parses node configs plainly)', () => {
    const body = JSON.stringify(dialog());
    const config = parseConfigText(`{"text-generator": ${body}, "text-generator": ${body}}`);
    expect(configWarnings(config).map((w) => w.path)).toEqual(['text-generator']);
  });

  it('are reported together with the schema issues', () => {
    const text = `{"dialog": 1, ${JSON.stringify({ dialog: { ...dialog(), 'max-num-tokens': -1 } }).slice(1)}`;
    const error = configErrorOf(() => parseConfigText(text));
    expect(error.issues.map((issue) => issue.path)).toEqual(['dialog', 'dialog.max-num-tokens']);
  });

  it('keys that only look alike are not duplicates', () => {
    expect(parseConfigText(JSON.stringify({ dialog: { ...dialog(), debug: { path: 'a' } } })).root).toBe('dialog');
  });
});

describe('invalid JSON', () => {
  const base = JSON.stringify({ dialog: dialog() }, null, 2);

  it.each<[string, string, string, string]>([
    ['a trailing comma', base.replace('"version": 1,\n    "type"', '"version": 1,,\n    "type"'), ',,', 'Expected double-quoted property name'],
    ['a missing value (no position in the Node 20 message)', base.replace('"size": 4096', '"size": }'), '}', "Unexpected token '}'"],
    ['a bare word', base.replace('"size": 4096', '"size": size'), 'size,', "Unexpected token 's'"],
    ['a # comment like the seed\'s', base.replace('"type": "basic",', '"type": "basic",  # the dialog type'), '#', 'Expected double-quoted property name'],
  ])('reports %s with line:column', (_name, text, needle, reason) => {
    const error = fileErrorOf(() => parseConfigText(text, { file: '/cfg/genie_config.json' }));
    const [line, column] = positionOf(text, needle).split(':').map(Number);
    const offsetInNeedle = needle === ',,' ? 1 : 0;
    expect([error.line, error.column]).toEqual([line, column + offsetInNeedle]);
    expect(error.file).toBe('/cfg/genie_config.json');
    expect(error.message).toBe(`invalid JSON in /cfg/genie_config.json at ${line}:${column + offsetInNeedle}: ${reason}`);
  });

  it('reports truncated text at its end, and empty text at 1:1', () => {
    const truncated = '{\n  "dialog": {\n    "version": 1';
    const error = fileErrorOf(() => parseConfigText(truncated));
    expect([error.line, error.column]).toEqual([3, 17]);
    expect(error.message).toMatch(/^invalid JSON in <config> at 3:17: /);
    expect([fileErrorOf(() => parseConfigText('')).line, fileErrorOf(() => parseConfigText('')).column]).toEqual([1, 1]);
  });

  it('strips the echoed text from V8\'s long-input message', () => {
    const text = `{"profile": {"version": 1, "x": [${'1,'.repeat(60)}]}}`;
    const error = fileErrorOf(() => parseConfigText(text));
    expect(error.message).toBe(`invalid JSON in <config> at 1:${text.indexOf(']') + 1}: Unexpected token ']'`);
  });

  // Found by the config fuzzer (test/reliability/fuzz/config.test.ts): the duplicate-key scan
  // recursed per nesting level (a RangeError past the call stack) and located each repeated key by
  // scanning from the start (quadratic).
  it('reports nesting deeper than the call stack as a config error, not a RangeError', () => {
    const deep = `{"dialog": ${'['.repeat(100_000)}1${']'.repeat(100_000)}}`;
    expect(configErrorOf(() => parseConfigText(deep)).issues).toEqual([{ path: 'dialog', message: 'expected an object, found an array of 1' }]);
    const unterminated = fileErrorOf(() => parseConfigText('['.repeat(100_000)));
    expect([unterminated.line, unterminated.column]).toEqual([1, 100_001]);
  });

  it('reports 20,000 repeated keys quickly', () => {
    const text = `{${Array.from({ length: 20_000 }, () => '"dialog": 1').join(',\n')}}`;
    const start = performance.now();
    const issues = configErrorOf(() => parseConfigText(text)).issues;
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(issues.filter((i) => i.message.startsWith('duplicate key'))).toHaveLength(19_999);
  });

  it('accepts a UTF-8 byte-order mark', () => {
    expect(parseConfigText(`\ufeff${base}`).root).toBe('dialog');
  });
});

describe('loadConfigFile errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genie-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the path and the OS reason of an unreadable file', async () => {
    const path = join(dir, 'missing.json');
    await expect(loadConfigFile(path)).rejects.toThrow(ConfigFileError);
    await expect(loadConfigFile(path)).rejects.toThrow(`cannot read config file ${path}: ENOENT: no such file or directory`);
    await expect(loadConfigFile(dir)).rejects.toThrow(`cannot read config file ${dir}: EISDIR: illegal operation on a directory`);
  });

  it('reports invalid JSON with the file and line:column', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{\n  "dialog": {\n    "version": 1,\n  }\n}\n');
    await expect(loadConfigFile(path)).rejects.toThrow(`invalid JSON in ${path} at 4:3: Expected double-quoted property name`);
  });

  it('carries the file on schema errors', async () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ profile: { version: 2 } }));
    const error = await loadConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(path);
    expect((error as ConfigError).message).toBe('profile.version: expected 1, found 2');
  });
});
