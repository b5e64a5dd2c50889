import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { CacheGroupConfig, LongContextConfig } from './schema/engine.js';
import type { LoraConfig, ModelConfig } from './schema/model.js';
import type { GenieConfig } from './types.js';

/** Sees one file path of a config (with its JSON path) and returns the value to keep. */
type PathVisitor = (value: string, key: string) => string;

/** A file a config refers to. */
export interface ReferencedFile {
  /** JSON path of the key, e.g. `dialog.engine.model.binary.ctx-bins[0]`. */
  readonly key: string;
  readonly path: string;
}

interface EngineLike {
  backend: { extensions?: string };
  model: Omit<ModelConfig, 'positional-encoding'> & { 'draft-token-map'?: string };
  longcontext?: LongContextConfig;
  'cache-groups'?: CacheGroupConfig[];
}

interface EncoderLike {
  tokenizer?: { path: string };
  lut?: { 'lut-path'?: string };
  engine?: EngineLike;
}

/** Paths in lists where "" means "none for this ctx-bin" stay "". */
function visitList(list: string[] | undefined, key: string, visit: PathVisitor): void {
  list?.forEach((value, i) => {
    if (value !== '') list[i] = visit(value, `${key}[${i}]`);
  });
}

function visitLora(lora: LoraConfig | undefined, key: string, visit: PathVisitor): void {
  lora?.adapters.forEach((adapter, i) => {
    const at = `${key}.adapters[${i}]`;
    if (adapter.path !== undefined) adapter.path = visit(adapter.path, `${at}.path`);
    visitList(adapter['bin-sections'], `${at}.bin-sections`, visit);
  });
  lora?.groups?.forEach((group, i) => visitList(group['quant-bin-sections'], `${key}.groups[${i}].quant-bin-sections`, visit));
}

function visitLongContext(longContext: LongContextConfig | undefined, key: string, visit: PathVisitor): void {
  const keydiff = longContext?.keydiff;
  if (keydiff !== undefined) keydiff['scoring-network'] = visit(keydiff['scoring-network'], `${key}.keydiff.scoring-network`);
}

function visitEngine(engine: EngineLike, key: string, visit: PathVisitor): void {
  const { backend, model } = engine;
  if (backend.extensions !== undefined) backend.extensions = visit(backend.extensions, `${key}.backend.extensions`);
  if (model.binary !== undefined) {
    visitList(model.binary['ctx-bins'], `${key}.model.binary.ctx-bins`, visit);
    visitLora(model.binary.lora, `${key}.model.binary.lora`, visit);
  }
  if (model.library !== undefined) {
    model.library['model-bin'] = visit(model.library['model-bin'], `${key}.model.library.model-bin`);
    visitLora(model.library.lora, `${key}.model.library.lora`, visit);
  }
  if (model['draft-token-map'] !== undefined) {
    model['draft-token-map'] = visit(model['draft-token-map'], `${key}.model.draft-token-map`);
  }
  visitLongContext(engine.longcontext, `${key}.longcontext`, visit);
  engine['cache-groups']?.forEach((group, i) => visitLongContext(group.longcontext, `${key}.cache-groups[${i}].longcontext`, visit));
}

/** An encoder root or node: its tokenizer, LUT and engine, each optional. */
function visitEncoder(encoder: EncoderLike, root: string, visit: PathVisitor): void {
  if (encoder.tokenizer !== undefined) encoder.tokenizer.path = visit(encoder.tokenizer.path, `${root}.tokenizer.path`);
  const lut = encoder.lut;
  if (lut?.['lut-path'] !== undefined) lut['lut-path'] = visit(lut['lut-path'], `${root}.lut.lut-path`);
  if (encoder.engine !== undefined) visitEngine(encoder.engine, `${root}.engine`, visit);
}

/** The one place that knows which config keys hold file paths. */
function visitPaths(config: GenieConfig, visit: PathVisitor): void {
  switch (config.root) {
    case 'dialog':
    case 'text-generator': {
      const dialog = config.root === 'dialog' ? config.dialog : config['text-generator'];
      const root = config.root;
      dialog.tokenizer.path = visit(dialog.tokenizer.path, `${root}.tokenizer.path`);
      const embedding = dialog.embedding;
      if (embedding?.['lut-path'] !== undefined) embedding['lut-path'] = visit(embedding['lut-path'], `${root}.embedding.lut-path`);
      if (Array.isArray(dialog.engine)) dialog.engine.forEach((engine, i) => visitEngine(engine, `${root}.engine[${i}]`, visit));
      else visitEngine(dialog.engine, `${root}.engine`, visit);
      return;
    }
    case 'text-encoder':
      visitEncoder(config['text-encoder'], 'text-encoder', visit);
      return;
    case 'lut-encoder':
      visitEncoder(config['lut-encoder'], 'lut-encoder', visit);
      return;
    case 'image-encoder':
      visitEncoder(config['image-encoder'], 'image-encoder', visit);
      return;
    case 'embedding':
      visitEncoder(config.embedding, 'embedding', visit);
      return;
    case 'standalone-engine': {
      const root = config['standalone-engine'];
      if (root.embedding?.['lut-path'] !== undefined) {
        root.embedding['lut-path'] = visit(root.embedding['lut-path'], 'standalone-engine.embedding.lut-path');
      }
      visitEngine(root.engine, 'standalone-engine.engine', visit);
      return;
    }
    case 'sampler':
    case 'profile':
      return;
  }
}

/**
 * Makes every relative file path of a freshly parsed config absolute, against `baseDir`. An empty
 * path (Genie accepts one; genie-ts reports it as a value it cannot run) stays empty.
 */
export function resolvePaths(config: GenieConfig, baseDir: string): void {
  visitPaths(config, (value) => (value === '' || isAbsolute(value) ? value : resolve(baseDir, value)));
}

/** Every file the config names (ctx-bins, tokenizer, LUT, extensions, LoRA, scorer, token map), in config order. */
export function referencedFiles(config: GenieConfig): ReferencedFile[] {
  const files: ReferencedFile[] = [];
  visitPaths(config, (path, key) => {
    if (path !== '') files.push({ key, path });
    return path;
  });
  return files;
}

/** Referenced files that do not exist (yet); `config check` lists them as warnings. */
export function missingFiles(config: GenieConfig): string[] {
  const missing = referencedFiles(config)
    .map((file) => file.path)
    .filter((path) => !existsSync(path));
  return [...new Set(missing)];
}
