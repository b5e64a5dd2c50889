import { InvalidArgumentError } from '../errors.js';
import { LogitBiasStage, MirostatV2Stage, TypicalPStage, XtcStage } from './extra-stages.js';
import { MinPStage, PenaltiesStage, TemperatureStage, TopKStage, TopPStage, type BuiltinStage } from './genie-stages.js';
import type { SamplerParams } from './params.js';
import { penaltiesAreNeutral } from './penalties.js';
import type { SamplerStage } from './stage.js';

/** The stages that read the sampler params: Genie's chain (min-p, the extension, before temperature). */
export const GENIE_STAGES = ['penalties', 'top-k', 'top-p', 'min-p', 'temperature'] as const;
export type GenieStageName = (typeof GENIE_STAGES)[number];

/**
 * A built-in stage as the config (`sampler.stages`) and the API name it: one of Genie's stages by
 * name (or `{ type }`), or an extra stage with its own parameters.
 */
export type SamplerStageSpec =
  | GenieStageName
  | { readonly type: GenieStageName }
  | { readonly type: 'logit-bias'; readonly bias: Readonly<Record<string, number>> }
  | { readonly type: 'typical-p'; readonly p: number }
  | { readonly type: 'mirostat-v2'; readonly tau?: number; readonly eta?: number }
  | { readonly type: 'xtc'; readonly probability: number; readonly threshold: number };

/** One entry of a chain: a built-in stage's spec or a stage object of the caller's. */
export type ChainEntry = SamplerStageSpec | SamplerStage;

const EXTRA_KEYS: Readonly<Record<string, readonly string[]>> = {
  'logit-bias': ['bias'],
  'typical-p': ['p'],
  'mirostat-v2': ['tau', 'eta'],
  xtc: ['probability', 'threshold'],
};

/**
 * Checks one spec (as JSON gives it) and returns it typed; `path` names it in errors, e.g.
 * `sampler.stages[2]`. Token ids of a logit bias are checked against the vocabulary when the chain is
 * built (`buildChain`), the only time it is known.
 */
export function checkStageSpec(value: unknown, path: string): SamplerStageSpec {
  if (typeof value === 'string') {
    if ((GENIE_STAGES as readonly string[]).includes(value)) return value as GenieStageName;
    if (Object.hasOwn(EXTRA_KEYS, value)) {
      const keys = EXTRA_KEYS[value].map((key) => `"${key}"`).join(', ');
      throw new InvalidArgumentError(`${path} ${JSON.stringify(value)} takes parameters: write it as an object with "type": "${value}" and ${keys}`);
    }
    throw new InvalidArgumentError(`${path} ${JSON.stringify(value)} is not a stage; expected one of ${stageTypes()}, or an object for ${Object.keys(EXTRA_KEYS).join(', ')}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${path} must be a stage name or an object with a "type", got ${show(value)}`);
  }
  const spec = value as Record<string, unknown>;
  const type = spec.type;
  if (typeof type !== 'string' || !(type in EXTRA_KEYS || (GENIE_STAGES as readonly string[]).includes(type))) {
    throw new InvalidArgumentError(`${path}.type must be one of ${stageTypes()}, got ${show(type)}`);
  }
  const allowed = EXTRA_KEYS[type] ?? [];
  for (const key of Object.keys(spec)) {
    if (key !== 'type' && !allowed.includes(key)) {
      throw new InvalidArgumentError(`${path}.${key} is not a key of a "${type}" stage${allowed.length ? ` (keys: ${allowed.join(', ')})` : ' (it reads the sampler params)'}`);
    }
  }
  const number = (key: string, ok: (v: number) => boolean, range: string, fallback?: number): number => {
    const v = spec[key] ?? fallback;
    if (typeof v !== 'number' || !ok(v)) throw new InvalidArgumentError(`${path}.${key} must be ${range}, got ${show(spec[key])}`);
    return v;
  };
  switch (type) {
    case 'logit-bias': {
      const bias = spec.bias;
      if (typeof bias !== 'object' || bias === null || Array.isArray(bias)) {
        throw new InvalidArgumentError(`${path}.bias must be an object of token id -> bias, got ${show(bias)}`);
      }
      for (const [token, b] of Object.entries(bias)) {
        if (!/^(0|[1-9][0-9]*)$/.test(token) || Number(token) > 0x7fffffff) {
          throw new InvalidArgumentError(`${path}.bias key ${JSON.stringify(token)} is not a token id (a non-negative integer)`);
        }
        if (typeof b !== 'number' || !Number.isFinite(b)) {
          throw new InvalidArgumentError(`${path}.bias["${token}"] must be a finite number, got ${show(b)}`);
        }
      }
      return { type, bias: bias as Record<string, number> };
    }
    case 'typical-p':
      return { type, p: number('p', (v) => v > 0 && v <= 1, 'a number in (0, 1]') };
    case 'mirostat-v2':
      return {
        type,
        tau: number('tau', (v) => Number.isFinite(v) && v > 0, 'a finite number > 0 (target surprise in bits)', 5),
        eta: number('eta', (v) => v > 0 && v <= 1, 'a number in (0, 1] (learning rate)', 0.1),
      };
    case 'xtc':
      return {
        type,
        probability: number('probability', (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
        threshold: number('threshold', (v) => v > 0 && v <= 0.5, 'a number in (0, 0.5]'),
      };
    default:
      return { type: type as GenieStageName };
  }
}

/**
 * The stage objects of a chain, in order: specs are checked (`path` names the list in errors) and
 * built for `vocab`; stage objects are taken as they are (the caller's, used by this chain only).
 */
export function buildChain(entries: readonly ChainEntry[], vocab: number, path: string): SamplerStage[] {
  if (!Array.isArray(entries)) throw new InvalidArgumentError(`${path} must be an array of stages, got ${show(entries)}`);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const where = `${path}[${i}]`;
    if (isStageObject(entry)) return checkStageObject(entry, where);
    const spec = checkStageSpec(entry, where);
    const type = typeof spec === 'string' ? spec : spec.type;
    if ((GENIE_STAGES as readonly string[]).includes(type)) {
      if (seen.has(type)) throw new InvalidArgumentError(`${where} repeats the "${type}" stage (it reads the sampler params once per step)`);
      seen.add(type);
    }
    return builtinStage(spec, vocab, where);
  });
}

/**
 * Each of Genie's parameters that is in force must have its stage in the chain (else it would be
 * ignored). A greedy draw takes the best token whatever top-k, top-p, min-p and temperature say, so
 * only the penalties need their stage then; `configure` checks again when a draw stops being greedy.
 */
export function checkParamsHaveStages(params: SamplerParams, stages: readonly SamplerStage[], path: string): void {
  const names = new Set(stages.map((s) => s.name));
  const sampling = !params.greedy;
  const needs: [boolean, GenieStageName, string][] = [
    [params.penalizeLastN > 0 && !penaltiesAreNeutral(params), 'penalties', `penalizeLastN ${params.penalizeLastN}`],
    [sampling && params.topK > 0, 'top-k', `topK ${params.topK}`],
    [sampling && params.topP < 1, 'top-p', `topP ${params.topP}`],
    [sampling && params.minP > 0, 'min-p', `minP ${params.minP}`],
    [sampling && params.temp !== 1, 'temperature', `temp ${params.temp}`],
  ];
  for (const [active, stage, what] of needs) {
    if (active && !names.has(stage)) {
      throw new InvalidArgumentError(
        `sampler.${what} has no "${stage}" stage in ${path} [${[...names].join(', ')}]; add the stage or set the parameter neutral`,
      );
    }
  }
}

function builtinStage(spec: SamplerStageSpec, vocab: number, where: string): BuiltinStage {
  const type = typeof spec === 'string' ? spec : spec.type;
  switch (type) {
    case 'penalties':
      return new PenaltiesStage(vocab);
    case 'top-k':
      return new TopKStage();
    case 'top-p':
      return new TopPStage();
    case 'min-p':
      return new MinPStage();
    case 'temperature':
      return new TemperatureStage();
    default:
      break;
  }
  const s = spec as Exclude<SamplerStageSpec, string | { type: GenieStageName }>;
  switch (s.type) {
    case 'logit-bias': {
      const entries = Object.entries(s.bias);
      const tokens = new Int32Array(entries.length);
      const biases = new Float64Array(entries.length);
      entries.forEach(([token, bias], j) => {
        if (Number(token) >= vocab) throw new InvalidArgumentError(`${where}.bias key "${token}" is outside the vocabulary [0, ${vocab})`);
        tokens[j] = Number(token);
        biases[j] = bias;
      });
      return new LogitBiasStage(tokens, biases);
    }
    case 'typical-p':
      return new TypicalPStage(s.p, vocab);
    case 'mirostat-v2':
      return new MirostatV2Stage(s.tau ?? 5, s.eta ?? 0.1);
    case 'xtc':
      return new XtcStage(s.probability, s.threshold);
  }
}

function isStageObject(entry: ChainEntry): entry is SamplerStage {
  return typeof entry === 'object' && entry !== null && typeof (entry as SamplerStage).apply === 'function';
}

function checkStageObject(stage: SamplerStage, where: string): SamplerStage {
  if (typeof stage.name !== 'string' || stage.name.length === 0) {
    throw new InvalidArgumentError(`${where}.name must be a non-empty string, got ${show(stage.name)}`);
  }
  for (const key of ['accept', 'reset', 'writeState', 'readState'] as const) {
    if (stage[key] !== undefined && typeof stage[key] !== 'function') {
      throw new InvalidArgumentError(`${where}.${key} (stage "${stage.name}") must be a function when present, got ${show(stage[key])}`);
    }
  }
  const size = stage.stateSize;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0 || size > 1024)) {
    throw new InvalidArgumentError(`${where}.stateSize (stage "${stage.name}") must be an integer in [0, 1024], got ${show(size)}`);
  }
  if ((size ?? 0) > 0 && (stage.writeState === undefined || stage.readState === undefined)) {
    throw new InvalidArgumentError(`${where} (stage "${stage.name}") has stateSize ${size} but not both writeState and readState`);
  }
  return stage;
}

function stageTypes(): string {
  return [...GENIE_STAGES, ...Object.keys(EXTRA_KEYS)].map((t) => `"${t}"`).join(', ');
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
