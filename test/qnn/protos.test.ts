import { describe, it, expect, afterAll } from 'vitest';
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import {
  abi,
  checkQnn,
  CORE_SLOT_INDEX,
  CORE_SLOT_PROTOS,
  INTERFACE_TABLE_OFFSET,
  QnnBackendId,
  QnnError,
  QnnLogLevel,
  QnnTensorVersion,
  SLOT_SIZE,
  TENSOR_STRIDE,
  validSlotCount,
} from '../../src/qnn/index.js';

/** "result(arg, arg, ...)" with `out ` marking output parameters, as Koffi parsed the prototype. */
function signature(proto: TypeObject): string {
  const info = koffi.type(proto).proto;
  if (info === undefined) throw new Error(`${koffi.type(proto).name} is not a prototype`);
  const args = (info.arguments as unknown as { type: TypeObject; direction: string }[]).map(
    (a) => `${a.direction === 'Output' ? 'out ' : ''}${a.type.name}`,
  );
  return `${info.result.name}(${args.join(', ')})`;
}

describe('function prototypes (docs/qnn-abi.md#call-signatures)', () => {
  it('declare every documented parameter with uint64 Qnn_ErrorHandle_t results', () => {
    // Written from the documented C signatures: handles void*, out-handles void**, const dropped.
    const expected: Record<string, string> = {
      QnnInterface_GetProvidersFn_t: 'uint64_t(out QnnInterface_t ***, out uint32_t *)',
      QnnSystemInterface_GetProvidersFn_t: 'uint64_t(out QnnSystemInterface_t ***, out uint32_t *)',
      QnnProperty_HasCapabilityFn_t: 'uint64_t(uint32_t)',
      QnnBackend_CreateFn_t: 'uint64_t(void *, QnnBackend_Config_t **, out void **)',
      QnnBackend_GetBuildIdFn_t: 'uint64_t(out char **)',
      QnnBackend_FreeFn_t: 'uint64_t(void *)',
      QnnDevice_CreateFn_t: 'uint64_t(void *, QnnDevice_Config_t **, out void **)',
      QnnDevice_FreeFn_t: 'uint64_t(void *)',
      QnnDevice_GetPlatformInfoFn_t: 'uint64_t(void *, out QnnDevice_PlatformInfo_t **)',
      QnnDevice_FreePlatformInfoFn_t: 'uint64_t(void *, QnnDevice_PlatformInfo_t *)',
      QnnDevice_GetInfrastructureFn_t: 'uint64_t(out void **)',
      QnnContext_CreateFromBinaryFn_t:
        'uint64_t(void *, void *, QnnContext_Config_t **, void *, uint64_t, out void **, void *)',
      QnnContext_SetConfigFn_t: 'uint64_t(void *, QnnContext_Config_t **)',
      QnnContext_FreeFn_t: 'uint64_t(void *, void *)',
      QnnGraph_RetrieveFn_t: 'uint64_t(void *, char *, out void **)',
      QnnGraph_ExecuteFn_t: 'uint64_t(void *, Qnn_Tensor_t *, uint32_t, Qnn_Tensor_t *, uint32_t, void *, void *)',
      QnnMem_RegisterFn_t: 'uint64_t(void *, Qnn_MemDescriptor_t *, uint32_t, out void **)',
      QnnMem_DeRegisterFn_t: 'uint64_t(void **, uint32_t)',
      QnnLog_CreateFn_t: 'uint64_t(QnnLog_Callback_t *, uint32_t, out void **)',
      QnnLog_FreeFn_t: 'uint64_t(void *)',
      QnnLog_Callback_t: 'void(char *, uint32_t, uint64_t, void *)',
      QnnProfile_CreateFn_t: 'uint64_t(void *, uint32_t, out void **)',
      QnnProfile_GetEventsFn_t: 'uint64_t(void *, out uint64_t **, out uint32_t *)',
      QnnProfile_GetSubEventsFn_t: 'uint64_t(uint64_t, out uint64_t **, out uint32_t *)',
      QnnProfile_GetEventDataFn_t: 'uint64_t(uint64_t, out QnnProfile_EventData_t *)',
      QnnProfile_FreeFn_t: 'uint64_t(void *)',
      QnnError_GetMessageFn_t: 'uint64_t(uint64_t, out char **)',
      QnnSystemContext_CreateFn_t: 'uint64_t(out void **)',
      QnnSystemContext_GetBinaryInfoFn_t:
        'uint64_t(void *, void *, uint64_t, out QnnSystemContext_BinaryInfo_t **, out uint64_t *)',
      QnnSystemContext_GetMetadataFn_t: 'uint64_t(void *, void *, uint64_t, out QnnSystemContext_BinaryInfo_t **)',
      QnnSystemContext_FreeFn_t: 'uint64_t(void *)',
      QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t: 'uint64_t(uint32_t, uint32_t, out uint32_t *)',
      QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t: 'uint64_t(uint32_t)',
      QnnHtpPerfInfrastructure_SetPowerConfigFn_t: 'uint64_t(uint32_t, QnnHtpPerfInfrastructure_PowerConfig_t **)',
      QnnHtpPerfInfrastructure_SetMemoryConfigFn_t:
        'uint64_t(uint32_t, uint32_t, QnnHtpPerfInfrastructure_MemoryConfig_t **)',
    };
    for (const [name, sig] of Object.entries(expected)) {
      expect(signature(abi[name as keyof typeof abi]), name).toBe(sig);
    }
  });
});

describe('a JS provider called through the function table', () => {
  const registered: bigint[] = [];
  const allocations: bigint[] = [];
  const register = (fn: (...args: never[]) => unknown, proto: TypeObject): bigint => {
    const ptr = koffi.register(fn, koffi.pointer(proto));
    registered.push(ptr);
    return ptr;
  };
  const alloc = (type: Parameters<typeof koffi.alloc>[0], length: number): bigint => {
    const ptr = koffi.alloc(type, length) as bigint;
    allocations.push(ptr);
    return ptr;
  };
  afterAll(() => {
    for (const ptr of registered) koffi.unregister(ptr);
    for (const ptr of allocations) koffi.free(ptr);
  });

  const GRAPH = 0xdead0n;
  const FAILURE = (0x00ab_0000_0000n << 16n) | 6004n;
  const executions: number[][] = [];

  /** A fake QnnInterface_t for core API 2.23 (64 slots), with a few slots filled and the rest NULL. */
  function makeProvider(): bigint {
    const size = INTERFACE_TABLE_OFFSET + SLOT_SIZE * validSlotCount(23);
    const provider = alloc('uint8_t', size);
    new Uint8Array(koffi.view(provider, size)).fill(0);
    const name = alloc('char', 16);
    koffi.encode(name, 'char', 'HTP_QTI_AISW', 13);
    koffi.encode(provider, 0, 'uint32_t', QnnBackendId.HTP);
    koffi.encode(provider, 8, 'void *', name);
    koffi.encode(provider, 16, abi.Qnn_ApiVersion_t, {
      coreApiVersion: { major: 2, minor: 23, patch: 0 },
      backendApiVersion: { major: 5, minor: 30, patch: 0 },
    });
    const slots: [keyof typeof CORE_SLOT_PROTOS, bigint][] = [
      ['graphRetrieve', register((_ctx: unknown, graphName: string, out: bigint) => {
        if (graphName !== 'token_ar1_cl512') return 6002;
        koffi.encode(out, 'void *', GRAPH);
        return 0;
      }, abi.QnnGraph_RetrieveFn_t)],
      ['graphExecute', register((graph: bigint, inputs: bigint, numInputs: number, outputs: bigint, numOutputs: number) => {
        if (graph !== GRAPH || numOutputs !== 1) return FAILURE;
        // Sum the first uint32 of every input buffer into the output buffer, reading tensors at stride 144.
        let sum = 0;
        const ids: number[] = [];
        for (let i = 0; i < numInputs; i++) {
          const t = koffi.decode(inputs, i * TENSOR_STRIDE, abi.Qnn_Tensor_t);
          ids.push(t.u.v2.id);
          sum += koffi.decode(t.u.v2.u.clientBuf.data, 'uint32_t');
        }
        const out = koffi.decode(outputs, abi.Qnn_Tensor_t);
        koffi.encode(out.u.v2.u.clientBuf.data, 'uint32_t', sum);
        executions.push(ids);
        return 0;
      }, abi.QnnGraph_ExecuteFn_t)],
      ['errorGetMessage', register((rc: number | bigint, out: bigint) => {
        koffi.encode(out, 'const char *', BigInt(rc) === FAILURE ? name : null);
        return 0;
      }, abi.QnnError_GetMessageFn_t)],
    ];
    for (const [slot, fn] of slots) {
      koffi.encode(provider, INTERFACE_TABLE_OFFSET + SLOT_SIZE * CORE_SLOT_INDEX[slot], 'void *', fn);
    }
    return provider;
  }

  function bind<S extends keyof typeof CORE_SLOT_PROTOS>(provider: bigint, slot: S) {
    const fnPtr = koffi.decode(provider, INTERFACE_TABLE_OFFSET + SLOT_SIZE * CORE_SLOT_INDEX[slot], 'void *');
    return fnPtr === null ? null : (koffi.decode(fnPtr, CORE_SLOT_PROTOS[slot]) as (...args: unknown[]) => number | bigint);
  }

  function tensor(id: number, data: bigint) {
    return {
      version: QnnTensorVersion.V2,
      u: { v2: { id, name: null, rank: 0, dimensions: null, u: { clientBuf: { data, dataSize: 4 } } } },
    };
  }

  it('finds the provider through getProviders and reads its header', () => {
    const provider = makeProvider();
    const list = alloc('void *', 1);
    koffi.encode(list, 'void *', provider);
    const getProviders = koffi.decode(
      register((outList: bigint, outCount: bigint) => {
        koffi.encode(outList, 'void *', list);
        koffi.encode(outCount, 'uint32_t', 1);
        return 0;
      }, abi.QnnInterface_GetProvidersFn_t),
      abi.QnnInterface_GetProvidersFn_t,
    );
    const outList: unknown[] = [null];
    const outCount: number[] = [0];
    checkQnn('QnnInterface_getProviders', getProviders(outList, outCount));
    expect(outCount[0]).toBe(1);
    const [first] = koffi.decode(outList[0], 'void *', outCount[0]) as bigint[];
    expect(first).toBe(provider);
    expect(koffi.decode(first, 0, 'uint32_t')).toBe(QnnBackendId.HTP);
    expect(koffi.decode(first, 8, 'const char *')).toBe('HTP_QTI_AISW');
    expect(koffi.decode(first, 16, abi.Qnn_ApiVersion_t).coreApiVersion).toEqual({ major: 2, minor: 23, patch: 0 });
  });

  it('retrieves and executes a graph with native tensor arrays; empty slots read as NULL', () => {
    const provider = makeProvider();
    expect(bind(provider, 'backendCreate')).toBeNull();
    const graphRetrieve = bind(provider, 'graphRetrieve')!;
    const graphExecute = bind(provider, 'graphExecute')!;

    const out: unknown[] = [null];
    checkQnn('QnnGraph_retrieve', graphRetrieve(null, 'token_ar1_cl512', out));
    expect(out[0]).toBe(GRAPH);

    const buffers = [alloc('uint32_t', 1), alloc('uint32_t', 1), alloc('uint32_t', 1)];
    koffi.encode(buffers[0], 'uint32_t', 40);
    koffi.encode(buffers[1], 'uint32_t', 2);
    const inputs = alloc(abi.Qnn_Tensor_t, 2);
    koffi.encode(inputs, 0, abi.Qnn_Tensor_t, tensor(11, buffers[0]));
    koffi.encode(inputs, TENSOR_STRIDE, abi.Qnn_Tensor_t, tensor(12, buffers[1]));
    const outputs = alloc(abi.Qnn_Tensor_t, 1);
    koffi.encode(outputs, abi.Qnn_Tensor_t, tensor(13, buffers[2]));

    checkQnn('QnnGraph_execute', graphExecute(out[0], inputs, 2, outputs, 1, null, null));
    expect(executions.at(-1)).toEqual([11, 12]);
    expect(koffi.decode(buffers[2], 'uint32_t')).toBe(42);
  });

  it('turns a failing call into a QnnError with the message from errorGetMessage', () => {
    const provider = makeProvider();
    const graphExecute = bind(provider, 'graphExecute')!;
    const errorGetMessage = bind(provider, 'errorGetMessage')!;
    const getMessage = (rc: number | bigint) => {
      const message: unknown[] = [null];
      return errorGetMessage(rc, message) === 0 ? (message[0] as string | undefined) : undefined;
    };
    const rc = graphExecute(0n, null, 0, null, 0, null, null);
    expect(BigInt(rc)).toBe(FAILURE);
    expect(() => checkQnn('QnnGraph_execute', rc, getMessage)).toThrow(QnnError);
    expect(() => checkQnn('QnnGraph_execute', rc, getMessage)).toThrow(
      /^QnnGraph_execute failed with QNN error 6004 \(GRAPH_INVALID_TENSOR\): HTP_QTI_AISW\. Hint: /,
    );
  });

  it('hands a registered log callback to QNN as a function pointer', () => {
    const seen: [string, number, number][] = [];
    const callback = register((fmt: string, level: number, timestamp: number) => {
      seen.push([fmt, level, timestamp]);
    }, abi.QnnLog_Callback_t);
    const logCreate = koffi.decode(
      register((cb: bigint, maxLevel: number, out: bigint) => {
        koffi.call(cb, abi.QnnLog_Callback_t, `max level %d`, maxLevel, 1234, null);
        koffi.encode(out, 'void *', 0x10n);
        return 0;
      }, abi.QnnLog_CreateFn_t),
      abi.QnnLog_CreateFn_t,
    );
    const out: unknown[] = [null];
    checkQnn('QnnLog_create', logCreate(callback, QnnLogLevel.WARN, out));
    expect(out[0]).toBe(0x10n);
    expect(seen).toEqual([['max level %d', 2, 1234]]);
  });
});
