import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, GenieError } from '../../errors.js';
import { parseSafetensorsBytes, safetensorsPieces, type SafetensorsDType } from '../../formats/safetensors.js';
import { resolveInitialParams } from '../../sampler/resolve-params.js';
import { SeededRng, type RngState } from '../../sampler/rng.js';
import type { SamplerParams } from '../../sampler/params.js';
import type { SamplerStageState } from '../../sampler/stage-state.js';
import type { ElementArray } from '../../tensor/dtype.js';
import type { DialogState } from '../dialog-state.js';
import { TurnLedger, type LedgerState } from '../turn-ledger.js';
import { writeFolderAtomically } from './atomic.js';
import { checkBetweenQueries } from './checkpoint.js';
import { SaveFormatError, SaveWriteError } from './errors.js';
import { checkIdentity, modelIdentity } from './identity.js';

/** The manifest's name (Genie's save folder has a `dialog.json` too) and the format it records. */
export const MANIFEST = 'dialog.json';
export const KV_FILE = 'kv.safetensors';
/** Genie saves the sampler's RNG state as `sampler.<role>.rng`; a basic dialog's sampler has the role `primary`. */
export const SAMPLER_ROLE = 'primary';
export const RNG_FILE = `sampler.${SAMPLER_ROLE}.rng`;
export const FORMAT = 'genie-ts/dialog-save';
/** Version 2 adds `sampler.stages` (the stages' state); version 1 saves still restore, their stages reset. */
export const FORMAT_VERSION = 2;
/** `i`, `j`, then the 256 bytes of the ARC4 permutation. */
const RNG_BYTES = 258;

interface FileRef {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** `dialog.json`, version 2 (README, "Save and restore"). */
interface Manifest {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly model: unknown;
  readonly kv: FileRef & { readonly nValid: number; readonly cl: number; readonly ar: number };
  readonly positions: readonly number[];
  readonly nextPosition: number;
  readonly ledger: LedgerState;
  readonly sampler: { readonly role: string; readonly params: SamplerParams; readonly rng: FileRef; readonly stages: JsonStageState };
}

/** A stage state in JSON: numbers that are not finite (a custom stage's) written as the strings "NaN", "Infinity", "-Infinity". */
type JsonNumber = number | string;
type JsonStageState = Omit<SamplerStageState, 'state' | 'journal'> & {
  readonly state: readonly JsonNumber[];
  readonly journal: { readonly base: readonly JsonNumber[]; readonly keys: readonly number[]; readonly states: readonly JsonNumber[] } | null;
};

const toJsonNumbers = (list: readonly number[]): JsonNumber[] => list.map((v) => (Number.isFinite(v) ? v : String(v)));
const NON_FINITE: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };
/** Strings other than the three are left as they are, for the stage state's check to name. */
const fromJsonNumbers = (list: unknown): unknown => (Array.isArray(list) ? list.map((v) => (typeof v === 'string' && v in NON_FINITE ? NON_FINITE[v] : v)) : list);

function stageStateToJson(state: SamplerStageState): JsonStageState {
  const { journal } = state;
  return {
    ...state,
    state: toJsonNumbers(state.state),
    journal: journal === null ? null : { base: toJsonNumbers(journal.base), keys: journal.keys, states: toJsonNumbers(journal.states) },
  };
}

function stageStateFromJson(json: unknown): SamplerStageState {
  if (typeof json !== 'object' || json === null) return json as SamplerStageState;
  const { state, journal } = json as Record<string, unknown>;
  const j = typeof journal === 'object' && journal !== null ? (journal as Record<string, unknown>) : null;
  return {
    ...(json as SamplerStageState),
    state: fromJsonNumbers(state) as number[],
    journal: j === null ? (journal as null) : ({ ...j, base: fromJsonNumbers(j.base), states: fromJsonNumbers(j.states) } as SamplerStageState['journal']),
  };
}

const SAFETENSORS_DTYPE: Record<string, string> = {
  Uint8Array: 'U8', Int8Array: 'I8', Uint16Array: 'U16', Int16Array: 'I16', Uint32Array: 'U32', Int32Array: 'I32', Float32Array: 'F32',
};

/** Each KV tensor's name in kv.safetensors (the KV-in tensor's name) and its packed shape for `n` entries. */
function kvTensors(state: DialogState, n: number): { name: string; slot: number; part: 'key' | 'value'; shape: number[] }[] {
  return state.engine.layout.kv.flatMap((spec, slot) => [
    { name: spec.key.in, slot, part: 'key' as const, shape: [spec.key.heads, spec.key.headDim, n] },
    { name: spec.value.in, slot, part: 'value' as const, shape: [spec.value.heads, n, spec.value.headDim] },
  ]);
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (a: ElementArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Genie's `GenieDialog_save` (docs/genie-behaviour.md#save-and-restore): writes the dialog's state to the folder `dir` atomically (built beside
 * it, then renamed; an existing save there is replaced, any other existing non-empty folder is
 * refused). The state is taken synchronously when the call starts, so later queries do not leak in.
 */
export async function saveDialog(state: DialogState, dir: string): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`save takes a folder path, got ${String(dir)}`);
  checkBetweenQueries(state);
  const { engine, ledger, sampler } = state;
  const part = engine.kvCache;
  const n = part.nValid;
  const entries = Array.from({ length: part.cache.slotCount }, (_, s) => part.cache.readEntries(s));
  const tensors = kvTensors(state, n).map((t) => ({ ...t, data: entries[t.slot][t.part] }));
  const rng = sampler.getState();
  const stages = stageStateToJson(sampler.getStageState());
  const manifestBase = {
    format: FORMAT,
    version: FORMAT_VERSION,
    model: modelIdentity(state),
    positions: Array.from(part.positions()),
    nextPosition: engine.position,
    ledger: ledger.snapshot(),
    params: sampler.params,
    cl: part.cache.contextLength,
    ar: part.cache.ar,
  };
  try {
    await refuseForeignFolder(dir);
    await writeFolderAtomically(dir, async (staging) => {
      const kv = await writeKv(join(staging, KV_FILE), tensors);
      const rngBytes = encodeRng(rng);
      await writeFile(join(staging, RNG_FILE), rngBytes);
      const manifest: Manifest = {
        format: FORMAT,
        version: FORMAT_VERSION,
        model: manifestBase.model,
        kv: { file: KV_FILE, ...kv, nValid: n, cl: manifestBase.cl, ar: manifestBase.ar },
        positions: manifestBase.positions,
        nextPosition: manifestBase.nextPosition,
        ledger: manifestBase.ledger,
        sampler: { role: SAMPLER_ROLE, params: manifestBase.params, rng: { file: RNG_FILE, bytes: RNG_BYTES, sha256: sha256(rngBytes) }, stages },
      };
      await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    });
  } catch (cause) {
    if (cause instanceof GenieError) throw cause;
    throw new SaveWriteError(dir, `save: cannot write the save folder "${dir}": ${(cause as Error).message}`, { cause });
  }
}

/** A folder that exists, is not empty and holds no dialog.json is not ours to replace. */
async function refuseForeignFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (info === null) return;
  if (!info.isDirectory()) throw new InvalidArgumentError(`save: "${dir}" exists and is not a folder`);
  const names = await readdir(dir);
  if (names.length > 0 && !names.includes(MANIFEST)) {
    throw new InvalidArgumentError(`save: "${dir}" is a non-empty folder that is not a dialog save (no ${MANIFEST}); not replacing it`);
  }
}

/** A safetensors file of the packed KV entries, each tensor in its stored element type. */
async function writeKv(path: string, tensors: { name: string; shape: number[]; data: ElementArray }[]): Promise<Omit<FileRef, 'file'>> {
  const raw = new Map(tensors.map(({ name, shape, data }) => [name, { dtype: SAFETENSORS_DTYPE[data.constructor.name] as SafetensorsDType, shape, data: bytesOf(data) }]));
  const pieces = safetensorsPieces(raw);
  const hash = createHash('sha256');
  let bytes = 0;
  const handle = await open(path, 'w');
  try {
    for (const piece of pieces) {
      hash.update(piece);
      await handle.write(piece);
      bytes += piece.byteLength;
    }
  } finally {
    await handle.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

function encodeRng(state: RngState): Uint8Array {
  const bytes = new Uint8Array(RNG_BYTES);
  bytes[0] = state.i;
  bytes[1] = state.j;
  bytes.set(state.S, 2);
  return bytes;
}

/**
 * Genie's `GenieDialog_restore`: replaces the dialog's conversation with the save in `dir`. Reads
 * and checks everything first (bounded reads; the model identity; file sizes and hashes; every
 * field); any error leaves the dialog unchanged. A query parked at a yield is cancelled only once
 * the save is known good.
 * @throws SaveFormatError, SaveModelMismatchError, DialogBusyError
 */
export async function restoreDialog(state: DialogState, dir: string): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError(`restore takes a folder path, got ${String(dir)}`);
  state.checkIdle();
  const loaded = await readSave(state, dir);
  // The reads awaited: check again that nothing took the dialog meanwhile.
  state.checkIdle();
  state.cancelSuspended();
  const { engine, ledger, sampler } = state;
  const part = engine.kvCache;
  part.cache.loadEntries(loaded.cl, loaded.ar, loaded.nValid, loaded.entries);
  part.loadPositions(loaded.positions, loaded.nextPosition);
  ledger.restore(loaded.ledger);
  sampler.configure(loaded.params);
  sampler.setState(loaded.rng);
  // A version-1 save holds no stage state: the stages start over, as after reset().
  if (loaded.stages === null) sampler.reset();
  else sampler.setStageState(loaded.stages);
}

interface LoadedSave {
  readonly nValid: number;
  readonly cl: number;
  readonly ar: number;
  readonly entries: { key: ElementArray; value: ElementArray }[];
  readonly positions: readonly number[];
  readonly nextPosition: number;
  readonly ledger: LedgerState;
  readonly params: SamplerParams;
  readonly rng: RngState;
  /** Null for a version-1 save. */
  readonly stages: SamplerStageState | null;
}

/** Reads and validates a save folder against the dialog's model; changes nothing. */
export async function readSave(state: DialogState, dir: string): Promise<LoadedSave> {
  const info = await stat(dir).catch((cause: unknown) => {
    throw new SaveFormatError(dir, `restore: cannot read the save folder "${dir}": ${(cause as Error).message}`, { cause });
  });
  if (!info.isDirectory()) throw new SaveFormatError(dir, `restore: "${dir}" is not a folder (a save is a folder with ${MANIFEST})`);
  const limit = state.contextLimit;
  const manifestPath = join(dir, MANIFEST);
  const manifestBytes = await readBounded(manifestPath, 4 * 1024 * 1024 + 1024 * (limit + 1), `restore: "${dir}" is not a dialog save (no ${MANIFEST})`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (cause) {
    throw new SaveFormatError(manifestPath, `restore: ${manifestPath} is not valid JSON (truncated or corrupt): ${(cause as Error).message}`, { cause });
  }
  const fail = (key: string, what: string): never => {
    throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: ${key} ${what}`);
  };
  if (!isObject(raw) || raw.format !== FORMAT) fail('format', `is not "${FORMAT}": not a genie-ts dialog save`);
  const m = raw as Record<string, unknown>;
  if (m.version !== FORMAT_VERSION && m.version !== 1) fail('version', `is ${JSON.stringify(m.version)}; this genie-ts reads versions 1 and ${FORMAT_VERSION}`);
  checkIdentity(m.model, modelIdentity(state), manifestPath);

  // KV header fields.
  const kv = isObject(m.kv) ? m.kv : fail('kv', 'is missing or not an object');
  const nValid = kv.nValid;
  const cl = kv.cl;
  const ar = kv.ar;
  const variant = state.engine.layout.variants.find((v) => v.cl === cl && v.ar === ar);
  if (variant === undefined) fail('kv.cl/kv.ar', `(${JSON.stringify(cl)}, ${JSON.stringify(ar)}) is not a variant of the model`);
  if (!isInt(nValid) || nValid > limit || nValid > variant!.pastDim) fail('kv.nValid', `must be an integer in [0, ${Math.min(limit, variant!.pastDim)}], got ${JSON.stringify(nValid)}`);
  const n = nValid as number;

  // Positions: one per entry, increasing; the next one after them.
  const positions = m.positions;
  if (!Array.isArray(positions) || positions.length !== n) fail('positions', `must be an array of ${n} positions (one per KV entry)`);
  (positions as unknown[]).forEach((p, i) => {
    if (!isInt(p) || p > 0x7fffffff || (i > 0 && (p as number) <= (positions as number[])[i - 1])) fail(`positions[${i}]`, `must be an integer above the one before, got ${JSON.stringify(p)}`);
  });
  const minNext = n === 0 ? 0 : (positions as number[])[n - 1] + 1;
  if (!isInt(m.nextPosition) || (m.nextPosition as number) < minNext || (m.nextPosition as number) > 0x7fffffff) {
    fail('nextPosition', `must be an integer >= ${minNext}, got ${JSON.stringify(m.nextPosition)}`);
  }

  // The ledger, checked on a scratch ledger, and against the vocabulary.
  const ledgerState = m.ledger as LedgerState;
  try {
    if (!isObject(ledgerState) || !isObject(ledgerState.history)) throw new InvalidArgumentError('is not an object with entries, carried, firstQuery, history');
    new TurnLedger(null, 0, 0).restore(ledgerState);
  } catch (cause) {
    throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: ledger ${(cause as Error).message}`, { cause });
  }
  if (ledgerState.entries.length !== n) fail('ledger.entries', `has ${ledgerState.entries.length} entries but kv.nValid is ${n}`);
  const vocab = state.engine.vocabSize;
  ledgerState.entries.forEach((k, i) => {
    if (typeof k === 'number' && k >= vocab) fail(`ledger.entries[${i}]`, `= ${k} is not a token id below the vocabulary size ${vocab}`);
  });
  ledgerState.history.tokens.forEach((t, i) => {
    if (t >= vocab) fail(`ledger.history.tokens[${i}]`, `= ${t} is not a token id below the vocabulary size ${vocab}`);
  });
  if (ledgerState.carried !== null && ledgerState.carried >= vocab) fail('ledger.carried', `= ${ledgerState.carried} is not a token id below ${vocab}`);

  // Sampler params (complete, validated as a sampler's initial params) and the RNG state.
  const samplerField = isObject(m.sampler) ? m.sampler : fail('sampler', 'is missing or not an object');
  if (samplerField.role !== SAMPLER_ROLE) fail('sampler.role', `must be "${SAMPLER_ROLE}", got ${JSON.stringify(samplerField.role)}`);
  let params: SamplerParams;
  try {
    if (!isObject(samplerField.params)) throw new InvalidArgumentError('is not an object');
    params = resolveInitialParams(samplerField.params as unknown as SamplerParams).params; // every key, greedy derived
  } catch (cause) {
    throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: sampler.params ${(cause as Error).message}`, { cause });
  }
  const rngBytes = await readRef(dir, samplerField.rng, RNG_FILE, RNG_BYTES, 'sampler.rng', manifestPath);
  if (rngBytes.length !== RNG_BYTES) throw new SaveFormatError(join(dir, RNG_FILE), `restore: ${join(dir, RNG_FILE)} is ${rngBytes.length} bytes, expected ${RNG_BYTES}`);
  const rng: RngState = { i: rngBytes[0], j: rngBytes[1], S: Array.from(rngBytes.subarray(2)) };
  try {
    new SeededRng(0).setState(rng);
  } catch (cause) {
    throw new SaveFormatError(join(dir, RNG_FILE), `restore: ${join(dir, RNG_FILE)}: ${(cause as Error).message}`, { cause });
  }
  let stages: SamplerStageState | null = null;
  if (m.version !== 1) {
    stages = stageStateFromJson(samplerField.stages);
    try {
      state.sampler.checkStageState(stages, 'sampler.stages');
    } catch (cause) {
      throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: ${(cause as Error).message}`, { cause });
    }
  }

  // The KV entries: exactly the tensors the model's layout names, in its stored element types.
  const part = state.engine.kvCache;
  const expected = kvTensors(state, n);
  const ctor = part.cache.elementType;
  const elementBytes = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const dataBytes = expected.reduce((sum, t) => sum + t.shape[0] * t.shape[1] * t.shape[2] * elementBytes, 0);
  const kvPath = join(dir, KV_FILE);
  const kvBytes = await readRef(dir, kv, KV_FILE, dataBytes + 8 + 1024 * 1024, 'kv', manifestPath);
  let parsed;
  try {
    parsed = parseSafetensorsBytes(kvBytes, kvPath);
  } catch (cause) {
    throw new SaveFormatError(kvPath, `restore: ${kvPath}: ${(cause as Error).message}`, { cause });
  }
  if (parsed.tensors.size !== expected.length) throw new SaveFormatError(kvPath, `restore: ${kvPath} holds ${parsed.tensors.size} tensors, the model has ${expected.length} KV tensors`);
  const entries = Array.from({ length: part.cache.slotCount }, () => ({}) as { key: ElementArray; value: ElementArray });
  const dtype = SAFETENSORS_DTYPE[ctor.name];
  for (const t of expected) {
    const info = parsed.tensors.get(t.name);
    if (info === undefined) throw new SaveFormatError(kvPath, `restore: ${kvPath} has no tensor "${t.name}"`);
    if (info.dtype !== dtype || JSON.stringify(info.shape) !== JSON.stringify(t.shape)) {
      throw new SaveFormatError(kvPath, `restore: ${kvPath}: tensor "${t.name}" is ${info.dtype} ${JSON.stringify(info.shape)}, expected ${dtype} ${JSON.stringify(t.shape)}`);
    }
    const data = new ctor((info.end - info.begin) / elementBytes);
    bytesOf(data).set(kvBytes.subarray(parsed.dataStart + info.begin, parsed.dataStart + info.end));
    entries[t.slot][t.part] = data;
  }
  return {
    nValid: n, cl: cl as number, ar: ar as number, entries, positions: positions as number[], nextPosition: m.nextPosition as number,
    ledger: ledgerState, params: params!, rng, stages,
  };
}

/** Reads a file the manifest names (`ref` = {file, bytes, sha256}), checking its name, size and hash. */
async function readRef(dir: string, ref: unknown, name: string, most: number, key: string, manifestPath: string): Promise<Uint8Array> {
  if (!isObject(ref) || ref.file !== name || !isInt(ref.bytes) || typeof ref.sha256 !== 'string') {
    throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: ${key} must name the file "${name}" with its bytes and sha256`);
  }
  const path = join(dir, name);
  if ((ref.bytes as number) > most) throw new SaveFormatError(manifestPath, `restore: ${manifestPath}: ${key}.bytes ${String(ref.bytes)} exceeds the ${most} bytes the model's state can take`);
  const bytes = await readBounded(path, ref.bytes as number, `restore: ${path} is missing`);
  if (bytes.length !== ref.bytes) {
    throw new SaveFormatError(path, `restore: ${path} is ${bytes.length} bytes but ${MANIFEST} records ${String(ref.bytes)} (truncated or replaced)`);
  }
  if (sha256(bytes) !== ref.sha256) throw new SaveFormatError(path, `restore: ${path} does not match the sha256 in ${MANIFEST} (corrupt)`);
  return bytes;
}

/** Reads a whole file of at most `most` bytes (a larger one is an error, read no further). */
async function readBounded(path: string, most: number, missing: string): Promise<Uint8Array> {
  let handle;
  try {
    // Non-blocking: a FIFO planted in a save folder must not hang the open (it is refused below).
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new SaveFormatError(path, code === 'ENOENT' ? missing : `restore: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SaveFormatError(path, `restore: ${path} is not a regular file`);
    const { size } = info;
    if (size > most) throw new SaveFormatError(path, `restore: ${path} is ${size} bytes, more than the ${most} it can be (not this model's save, or corrupt)`);
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return bytes.subarray(0, done);
  } catch (error) {
    if (error instanceof GenieError) throw error;
    throw new SaveFormatError(path, `restore: cannot read ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle.close();
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

