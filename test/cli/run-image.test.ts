/**
 * `genie-ts run --image`: images spliced at the prompt's placeholders, the image encoder found
 * beside the config, and the embedded VLM demo without -c. Oracle: the same query through the
 * library (`Dialog.create` with `imageEncoder`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_OPTIONS, demoCacheFolderName, resolveDemoOptions, writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import type { QueryResult } from '../../src/runtime/dialog.js';
import { cli, libraryTurn, printed, tempDir } from './fixtures.js';

const IMAGE = join(import.meta.dirname, '..', '..', 'examples', 'house.png');
const PROMPT = '<|im_start|>user\n<image>\nDescribe the image.<|im_end|>\n<|im_start|>assistant\n';

describe('genie-ts run --image', () => {
  const root = tempDir('cli-run-image');
  let bundle: DemoBundle;

  beforeAll(async () => {
    bundle = await writeDemoBundle(join(root, 'vlm'), { layers: 1, splits: 1, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 8], cl: 64, vision: true });
  });

  it('streams what the library gives for the same image query (image-encoder.json found beside -c)', async () => {
    const result = await cli(['run', '-c', bundle.configPath, '--image', IMAGE, '-p', PROMPT, '-n', '5']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const oracle = await libraryTurn(bundle.configPath, { text: PROMPT }, { maxTokens: 5, images: [IMAGE] }, { imageEncoder: join(bundle.dir, 'image-encoder.json') });
    expect(result.stdout).toBe(printed(oracle.result.text));
  });

  it('--json reports the image KPIs; two images for two placeholders', async () => {
    const result = await cli(['run', '-c', bundle.configPath, '--image', IMAGE, '--image', IMAGE, '-p', '<image> and <image>', '-n', '2', '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as QueryResult;
    expect(summary.kpis['num-images']).toBe(2);
    expect(summary.kpis['image-encoder-time']).toBeGreaterThan(0);
    expect(summary.kpis['num-prompt-tokens']).toBe(16 + 16 + summary.promptTokens.length);
  });

  it('--image-encoder names the encoder when the config has none beside it', async () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const config = join(elsewhere, 'genie_config.json');
    // The bundle's config, moved away from its image-encoder.json, with its paths made absolute.
    const absolute = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
    const body = absolute.dialog;
    body.tokenizer.path = join(bundle.dir, body.tokenizer.path);
    body.embedding['lut-path'] = join(bundle.dir, body.embedding['lut-path']);
    body.engine.model.binary['ctx-bins'] = body.engine.model.binary['ctx-bins'].map((b: string) => join(bundle.dir, b));
    writeFileSync(config, JSON.stringify(absolute));
    const missing = await cli(['run', '-c', config, '--image', IMAGE, '-p', '<image>', '-n', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`--image needs an image encoder: pass --image-encoder FILE (there is no image-encoder.json beside ${config})`);
    const named = await cli(['run', '-c', config, '--image-encoder', join(bundle.dir, 'image-encoder.json'), '--image', IMAGE, '-p', '<image>', '-n', '1']);
    expect([named.code, named.stderr]).toEqual([0, '']);
  });

  it('bad usage and bad images', async () => {
    const tokens = await cli(['run', '-c', bundle.configPath, '--image', IMAGE, '-tok', IMAGE]);
    expect(tokens.code).toBe(2);
    expect(tokens.stderr).toContain('--image needs --prompt or --prompt_file (a text prompt with <image> placeholders), not --tokens_file');
    const lone = await cli(['run', '-c', bundle.configPath, '--image-encoder', 'x.json', '-p', 'hi']);
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain('--image-encoder needs --image');
    const count = await cli(['run', '-c', bundle.configPath, '--image', IMAGE, '-p', 'no placeholder']);
    expect(count.code).toBe(1);
    expect(count.stderr).toContain('the prompt has 0 "<image>" placeholders but 1 image was given');
    const absent = await cli(['run', '-c', bundle.configPath, '--image', join(root, 'nope.jpg'), '-p', '<image>']);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain(`images[0] "${join(root, 'nope.jpg')}" cannot be read: ENOENT`);
    const corrupt = await cli(['run', '-c', bundle.configPath, '--image', bundle.configPath, '-p', '<image>']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(bundle.configPath);
  });
});

describe('genie-ts run --image without -c: the embedded VLM demo', () => {
  const cacheDir = join(tempDir('cli-vlm-demo'), 'cache');
  const previous = process.env.GENIE_TS_CACHE_DIR;
  beforeAll(() => {
    process.env.GENIE_TS_CACHE_DIR = cacheDir;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.GENIE_TS_CACHE_DIR;
    else process.env.GENIE_TS_CACHE_DIR = previous;
  });

  it('builds the VLM demo into the cache and answers', async () => {
    const result = await cli(['run', '--image', IMAGE, '-p', PROMPT, '-n', '3', '--json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const options = resolveDemoOptions({ vision: true });
    expect(demoCacheFolderName(options)).not.toBe(demoCacheFolderName(DEFAULT_DEMO_OPTIONS));
    const summary = JSON.parse(result.stdout) as QueryResult;
    expect(summary.kpis['num-images']).toBe(1);
    expect(summary.generatedTokens).toHaveLength(3);
  });
});
