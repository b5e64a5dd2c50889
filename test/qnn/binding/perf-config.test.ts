/**
 * The perf vote's power configs, encoded with the binding's declarations and read back at the
 * documented offsets (docs/qnn-abi.md#power-config-structs: option @0, DcvsV3 fields at union
 * offset 4 + n).
 */
import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import { abi } from '../../../src/qnn/index.js';
import { powerConfigs, type HtpPerfSettings } from '../../../src/qnn/binding/index.js';
import { rawBlock } from './raw-memory.js';

function encoded(config: object): DataView {
  const block = rawBlock(68, 0xee);
  koffi.encode(block.ptr, abi.QnnHtpPerfInfrastructure_PowerConfig_t, config);
  return block.view;
}

const u32 = (view: DataView, offset: number) => view.getUint32(offset, true);

describe('perf vote configs', () => {
  it('burst: DCVS off, PERFORMANCE mode, sleep latency 40 us, bus and core corners at MAX (0xA0)', () => {
    const settings: HtpPerfSettings = { profile: 'burst', rpcControlLatencyUs: 100, rpcPollingTimeUs: 9999 };
    const { dcvs, rpc } = powerConfigs(settings, 7);
    const v = encoded(dcvs);
    expect(u32(v, 0)).toBe(1); // DCVS_V3
    expect(u32(v, 4)).toBe(7); // contextId = power config id
    expect([u32(v, 8), u32(v, 12)]).toEqual([1, 0]); // setDcvsEnable, dcvsEnable
    expect(u32(v, 16)).toBe(0x10); // PERFORMANCE
    expect([u32(v, 20), u32(v, 24)]).toEqual([1, 40]);
    expect([u32(v, 28), u32(v, 32)]).toEqual([0, 0]); // sleep disable untouched
    expect([u32(v, 36), u32(v, 40), u32(v, 44), u32(v, 48)]).toEqual([1, 0xa0, 0xa0, 0xa0]);
    expect([u32(v, 52), u32(v, 56), u32(v, 60), u32(v, 64)]).toEqual([1, 0xa0, 0xa0, 0xa0]);
    const [latency, polling] = rpc.map(encoded);
    expect([u32(latency, 0), u32(latency, 4)]).toEqual([2, 100]); // RPC_CONTROL_LATENCY
    expect([u32(polling, 0), u32(polling, 4)]).toEqual([3, 9999]); // RPC_POLLING_TIME
  });

  it('high_performance: TURBO corners (0x80) and sleep latency 100 us', () => {
    const v = encoded(powerConfigs({ profile: 'high_performance', rpcControlLatencyUs: 250, rpcPollingTimeUs: 9999 }, 3).dcvs);
    expect([u32(v, 12), u32(v, 16), u32(v, 24)]).toEqual([0, 0x10, 100]);
    expect([u32(v, 40), u32(v, 48), u32(v, 56), u32(v, 64)]).toEqual([0x80, 0x80, 0x80, 0x80]);
    expect(u32(encoded(powerConfigs({ profile: 'high_performance', rpcControlLatencyUs: 250, rpcPollingTimeUs: 9999 }, 3).rpc[0]), 4)).toBe(250);
  });
});
