/**
 * The HTP backend-extensions file a Genie config names in `engine.backend.extensions`
 * (docs/genie-behaviour.md#htp-extensions-file), e.g.
 * `{"devices":[{"cores":[{"perf_profile":"burst","rpc_control_latency":100}]}]}`. Only the perf
 * keys of the first core of the first device are used; the file's other sections (memory, context,
 * graphs, soc_model, ...) configure Qualcomm's extensions library and are ignored.
 */
import { readFile } from 'node:fs/promises';
import { GenieError } from '../../errors.js';
import { formatPath, isPlainObject, jsonPreview } from '../../formats/json.js';

/** The extensions file is unreadable or a perf key has the wrong type; names the file and key. */
export class HtpExtensionsError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_EXTENSIONS', message, options);
  }
}

export interface HtpExtensionsPerf {
  /** `devices[0].cores[0].perf_profile`, unvalidated (the caller knows the supported names). */
  readonly perfProfile?: string;
  /** `devices[0].cores[0].rpc_control_latency` in microseconds. */
  readonly rpcControlLatencyUs?: number;
}

/** Reads the perf keys of an HTP extensions file. */
export async function readHtpExtensions(path: string): Promise<HtpExtensionsPerf> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new HtpExtensionsError(`HTP extensions file "${path}" cannot be read: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new HtpExtensionsError(`HTP extensions file "${path}" is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const fail = (key: string, value: unknown, what: string): never => {
    throw new HtpExtensionsError(`HTP extensions file "${path}": key ${key} ${jsonPreview(value)} ${what}`);
  };
  if (!isPlainObject(json)) return fail(formatPath([]), json, 'is not a JSON object');
  const devices = json.devices;
  if (devices === undefined) return {};
  if (!Array.isArray(devices)) return fail('devices', devices, 'is not an array');
  if (devices.length === 0) return {};
  const device = devices[0];
  if (!isPlainObject(device)) return fail('devices[0]', device, 'is not an object');
  const cores = device.cores;
  if (cores === undefined) return {};
  if (!Array.isArray(cores)) return fail('devices[0].cores', cores, 'is not an array');
  if (cores.length === 0) return {};
  const core = cores[0];
  if (!isPlainObject(core)) return fail('devices[0].cores[0]', core, 'is not an object');
  const profile = core.perf_profile;
  const latency = core.rpc_control_latency;
  if (profile !== undefined && typeof profile !== 'string') fail('devices[0].cores[0].perf_profile', profile, 'is not a string');
  if (latency !== undefined && !(Number.isSafeInteger(latency) && (latency as number) >= 0)) {
    fail('devices[0].cores[0].rpc_control_latency', latency, 'is not a non-negative integer (microseconds)');
  }
  return {
    ...(profile === undefined ? {} : { perfProfile: profile as string }),
    ...(latency === undefined ? {} : { rpcControlLatencyUs: latency as number }),
  };
}
