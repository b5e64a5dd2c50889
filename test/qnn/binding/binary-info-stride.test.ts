/**
 * The GraphInfo stride when only libQnnSystem is loaded (decodeBinaryInfo with no backend core API):
 * the binary info's own core API version picks the SDK's stride first
 * (docs/qnn-abi.md#graph-info-and-its-stride). Binary infos are laid out by hand at the documented
 * absolute offsets, one of them ambiguous: its elements look like GraphInfos at two strides.
 */
import { describe, expect, it } from 'vitest';
import { decodeBinaryInfo } from '../../../src/qnn/binding/index.js';
import { rawBlock, rawString } from './raw-memory.js';

/** A BinaryInfo V2 (144 B) built with core API 2.<minor>, numGraphs @120, graphs @128. */
function rawBinaryInfoV2(coreMinor: number, graphs: bigint, numGraphs: number): bigint {
  const block = rawBlock(144);
  block.u32(0, 2).u32(8, 6).ptrAt(16, rawString('v2.x.test')).u32(24, 2).u32(28, coreMinor).u32(32, 0);
  block.u32(120, numGraphs).ptrAt(128, graphs);
  return block.ptr;
}

/**
 * Two GraphInfo V2 elements at SDK 2.24's stride 64 (no IO tensors). The first's
 * numUpdateableTensors (@48) is 2 and its updateableTensors pointer (@56) non-NULL, so at stride 48
 * a second element seems to start there, with version 2 and a name: the layout is ambiguous.
 */
function ambiguousGraphs(): bigint {
  const block = rawBlock(128);
  block.u32(0, 2).ptrAt(8, rawString('first')).u32(48, 2).ptrAt(56, rawString('not-a-graph'));
  block.u32(64, 2).ptrAt(72, rawString('second'));
  return block.ptr;
}

describe('decodeBinaryInfo without a backend core API (libQnnSystem alone)', () => {
  it("an ambiguous array: the binary's core API 2.17 picks stride 64, where core API 2.14's 48 would misread it", () => {
    const info = rawBinaryInfoV2(17, ambiguousGraphs(), 2);
    expect(decodeBinaryInfo(info, null, 'a.bin').graphs.map((g) => g.name)).toEqual(['first', 'second']);
    // At 48 the second "graph" is the first's updateable-tensor fields, and its IO is garbage.
    expect(() => decodeBinaryInfo(info, 14, 'a.bin')).toThrow(/^context binary "a\.bin": graph "not-a-graph" input 0: unknown Qnn_Tensor_t version/);
  });

  it('a binary built with a core API older than 2.14 decodes at the oldest supported stride instead of throwing', () => {
    const single = rawBlock(48).u32(0, 1).ptrAt(8, rawString('only')).ptr;
    const info = decodeBinaryInfo(rawBinaryInfoV2(9, single, 1), null, 'old.bin');
    expect([info.coreApiVersion, info.graphs.map((g) => g.name)]).toEqual([{ major: 2, minor: 9, patch: 0 }, ['only']]);
  });
});
