/**
 * The native notify function of polled queued execution (src/qnn/binding/status-store.ts): its
 * machine code is the two instructions the module says (disassembled by llvm-mc, an independent
 * assembler, where installed), and on this machine it stores the 64-bit status it is called with
 * at the address it is given, and nothing else.
 */
import { spawnSync } from 'node:child_process';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { statusStore, statusStoreCode } from '../../../src/qnn/binding/status-store.js';

const llvmMc = spawnSync('llvm-mc', ['--version'], { encoding: 'utf8' });
const haveLlvmMc = llvmMc.status === 0;
if (!haveLlvmMc) console.warn('status-store.test: llvm-mc is not installed; the disassembly checks are skipped');

/** The instructions llvm-mc reads in `bytes` for `triple`, one per line, whitespace collapsed. */
function disassemble(triple: string, bytes: readonly number[]): string[] {
  const input = bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
  const result = spawnSync('llvm-mc', ['--disassemble', `--triple=${triple}`], { input, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout
    .split('\n')
    .map((line) => line.trim().replace(/\s+/g, ' '))
    .filter((line) => line !== '' && !line.startsWith('.'));
}

describe('the store function machine code', () => {
  it.skipIf(!haveLlvmMc)('x86-64: stores rsi (status) at [rdi] (param), 64 bits, then returns', () => {
    expect(disassemble('x86_64', statusStoreCode('x64')!)).toEqual(['movq %rsi, (%rdi)', 'retq']);
  });

  it.skipIf(!haveLlvmMc)('arm64: store-release of x1 (status) at [x0] (param), 64 bits, then returns', () => {
    expect(disassemble('aarch64', statusStoreCode('arm64')!)).toEqual(['stlr x1, [x0]', 'ret']);
  });

  it('other architectures have none (the queue then uses a Koffi callback)', () => {
    for (const arch of ['ia32', 'arm', 'riscv64', 'ppc64', 's390x']) expect(statusStoreCode(arch)).toBeUndefined();
  });
});

const store = statusStore();
const runsHere = store.fn !== undefined;
if (!runsHere) console.warn(`status-store.test: ${store.reason}; the call checks are skipped`);

describe('the store function on this machine', () => {
  it('is made once per process', () => {
    expect(statusStore()).toBe(store);
  });

  it.skipIf(!runsHere)('called as a Qnn_NotifyFn_t, stores the whole status at notifyParam and touches nothing around it', () => {
    const notify = koffi.decode(store.fn!, koffi.proto('void notify_for_test(void *param, uint64_t status)')) as (param: bigint, status: bigint) => void;
    const memory = koffi.alloc('uint64_t', 3) as bigint;
    try {
      const words = new BigUint64Array(koffi.view(memory, 24));
      for (const status of [0n, 6001n, 0x1_0000_0001n, 0xffff_ffff_ffff_fffen]) {
        words.fill(0xaaaa_aaaa_aaaa_aaaan);
        notify(memory + 8n, status);
        expect([...words]).toEqual([0xaaaa_aaaa_aaaa_aaaan, status, 0xaaaa_aaaa_aaaa_aaaan]);
      }
    } finally {
      koffi.free(memory);
    }
  });
});
