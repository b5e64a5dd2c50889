/**
 * The QAIRT SDK a core API version ships in (docs/qnn-abi.md#sdk-and-core-api-versions), so the
 * build id and the HTP backend API version (5.<SDK minor>) the simulator reports agree with its
 * core API version. API 2.31 is not in the table; 2.41 is assumed (slots 69-70 appeared in SDK
 * 2.41-2.43).
 */
import { Version } from './layout.js';
import type { ApiVersionTriple } from './options.js';

const SDK_MINOR_BY_CORE_MINOR: Readonly<Record<number, number>> = {
  7: 13, 8: 14, 9: 15, 10: 16, 11: 17, 12: 18, 13: 19, 14: 20, 15: 22, 16: 23, 17: 24, 18: 25, 19: 26,
  20: 27, 21: 28, 22: 29, 23: 30, 24: 31, 25: 33, 26: 35, 27: 36, 28: 37, 29: 39, 30: 40, 31: 41, 32: 43,
  33: 44, 34: 45, 35: 46, 36: 47, 37: 48, 38: 49,
};

/** The SDK minor (2.x) of a core API 2.<minor>, or undefined when not documented. */
export function sdkMinorOf(core: ApiVersionTriple): number | undefined {
  return core.major === 2 ? SDK_MINOR_BY_CORE_MINOR[core.minor] : undefined;
}

export function buildIdOf(core: ApiVersionTriple): string {
  const sdk = sdkMinorOf(core);
  return sdk === undefined
    ? `v?.?.?.genie-ts-simulated (core API ${core.major}.${core.minor}.${core.patch})`
    : `v2.${sdk}.0.genie-ts-simulated`;
}

/** The HTP backend API version: 5.<SDK minor>.0 (e.g. 5.43.0 in SDK 2.43). */
export function htpBackendApiVersionOf(core: ApiVersionTriple): ApiVersionTriple {
  return { major: 5, minor: sdkMinorOf(core) ?? 0, patch: 0 };
}

/** Writes `version` as a `Qnn_Version_t` / `Qnn_ApiVersion_t` triple at byte `at` of `view`. */
export function writeVersion(view: DataView, at: number, version: ApiVersionTriple): void {
  view.setUint32(at + Version.major, version.major, true);
  view.setUint32(at + Version.minor, version.minor, true);
  view.setUint32(at + Version.patch, version.patch, true);
}
