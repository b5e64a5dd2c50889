import { describe, expect, it } from 'vitest';
import { GenieError } from '../../src/errors.js';
import {
  parseChoiceFlag, parseFlags, parseIntegerFlag, parseIntegerListFlag, UsageError, type FlagSpec,
} from '../../src/cli/flags.js';

const specs: FlagSpec[] = [
  { name: 'config', kind: 'value', aliases: ['-c'] },
  { name: 'tokenizer', kind: 'value', aliases: ['-tok'] },
  { name: 'seed', kind: 'value' },
  { name: 'force', kind: 'boolean' },
  { name: 'help', kind: 'boolean', aliases: ['-h'] },
];

const parse = (...args: string[]) => {
  const { values, positionals } = parseFlags(args, specs);
  return { values: Object.fromEntries(values), positionals };
};

describe('parseFlags', () => {
  it('collects a values flag given several times, in order, under any spelling; other flags still may not repeat', () => {
    const repeatable: FlagSpec[] = [...specs, { name: 'image', kind: 'values', aliases: ['-i'] }];
    const { values, lists } = parseFlags(['--image', 'a.png', '-c', 'x', '-i=b.png', '--image', '--c.png'], repeatable);
    expect(lists.get('image')).toEqual(['a.png', 'b.png', '--c.png']);
    expect(values.has('image')).toBe(false);
    expect(parseFlags(['-c', 'x'], repeatable).lists.has('image')).toBe(false);
    expect(() => parseFlags(['--image', 'a', '-c', 'x', '--config', 'y'], repeatable)).toThrow('--config is given twice (also as -c)');
    expect(() => parseFlags(['--image'], repeatable)).toThrow('--image needs a value');
  });

  it('reads --name value, --name=value, short and multi-letter aliases, booleans and positionals', () => {
    expect(parse('--config', 'a.json', 'x', '-tok=t.json', '--force', 'y')).toEqual({
      values: { config: 'a.json', tokenizer: 't.json', force: true },
      positionals: ['x', 'y'],
    });
    expect(parse('-c', 'b.json', '--tokenizer', 'u.json', '-h')).toEqual({
      values: { config: 'b.json', tokenizer: 'u.json', help: true },
      positionals: [],
    });
  });

  it('keeps everything after the value flag’s = sign, = and empty values included', () => {
    expect(parse('--config=a=b', '--seed=').values).toEqual({ config: 'a=b', seed: '' });
  });

  it('takes a dash-led value that is not a flag (negative numbers, "-")', () => {
    expect(parse('--seed', '-1', '-c', '-').values).toEqual({ seed: '-1', config: '-' });
    expect(parse('--seed', '--weird').values).toEqual({ seed: '--weird' });
  });

  it('treats "-" and negative numbers as positionals and everything after "--" too', () => {
    expect(parse('-', '-5', '--', '--force', '-c')).toEqual({ values: {}, positionals: ['-', '-5', '--force', '-c'] });
  });

  it('returns nothing for no arguments', () => {
    expect(parse()).toEqual({ values: {}, positionals: [] });
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['an unknown long flag', ['--bogus', '1'], /^unknown flag "--bogus"$/],
    ['an unknown flag with a value', ['--bogus=1'], /^unknown flag "--bogus"$/],
    ['an unknown short flag', ['-x'], /^unknown flag "-x"$/],
    ['a value flag at the end', ['--config'], /^--config needs a value$/],
    ['a value flag followed by a flag', ['-c', '--force'], /^-c needs a value$/],
    ['a value flag followed by a flag with =', ['--config', '--seed=3'], /^--config needs a value$/],
    ['a value given to a boolean', ['--force=yes'], /^--force takes no value, got "yes"$/],
    ['a repeated flag', ['--seed', '1', '--seed', '2'], /^--seed is given twice$/],
    ['a repeated boolean', ['--force', '--force'], /^--force is given twice$/],
    ['a flag repeated under its alias', ['--config', 'a', '-c', 'b'], /^-c is given twice \(also as --config\)$/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with a UsageError naming the flag`, () => {
      expect(() => parseFlags(args, specs)).toThrow(UsageError);
      expect(() => parseFlags(args, specs)).toThrow(message);
      expect(parseFlags(['--seed', '1'], specs).values.get('seed')).toBe('1');
    });
  }

  it('gives UsageError the code USAGE', () => {
    const error = new UsageError('x');
    expect(error).toBeInstanceOf(GenieError);
    expect([error.code, error.name]).toEqual(['USAGE', 'UsageError']);
  });
});

describe('value parsers', () => {
  it('parses whole decimal integers', () => {
    expect(parseIntegerFlag('--n', '42')).toBe(42);
    expect(parseIntegerFlag('--n', '-3')).toBe(-3);
    expect(parseIntegerFlag('--n', '007')).toBe(7);
    expect(parseIntegerFlag('--n', '9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });

  for (const text of ['', 'x', '1.5', '1e3', '0x10', ' 1', '+1', '9007199254740993']) {
    it(`rejects ${JSON.stringify(text)} as an integer`, () => {
      expect(() => parseIntegerFlag('--layers', text)).toThrow(UsageError);
      expect(() => parseIntegerFlag('--layers', text)).toThrow(`--layers "${text}" is not an integer`);
    });
  }

  it('parses comma-separated integer lists', () => {
    expect(parseIntegerListFlag('--ar', '1,32,128')).toEqual([1, 32, 128]);
    expect(parseIntegerListFlag('--ar', '7')).toEqual([7]);
  });

  for (const [text, entry] of [['1,,2', ''], ['1,x', 'x'], ['', ''], ['1, 2', ' 2'], ['1,2.5', '2.5']]) {
    it(`rejects the list ${JSON.stringify(text)} naming entry ${JSON.stringify(entry)}`, () => {
      expect(() => parseIntegerListFlag('--ar', text)).toThrow(UsageError);
      expect(() => parseIntegerListFlag('--ar', text)).toThrow(`--ar "${text}": entry "${entry}" is not an integer`);
    });
  }

  it('accepts one of a set of choices', () => {
    expect(parseChoiceFlag('--input', 'embeds', ['ids', 'embeds'])).toBe('embeds');
    expect(() => parseChoiceFlag('--input', 'IDS', ['ids', 'embeds'])).toThrow(UsageError);
    expect(() => parseChoiceFlag('--input', 'IDS', ['ids', 'embeds'])).toThrow('--input "IDS" is not one of: ids, embeds');
  });
});
