/**
 * Context binaries' metadata through libQnnSystem alone (`genie-ts inspect`): QnnSystemContext's
 * binary info (docs/qnn-abi.md#context-binary-metadata) with no backend library loaded, no QNN
 * backend, device or context created, nothing of HTP touched. A laptop with the SDK (or a device)
 * has what this needs. Every system context and every binary is released on every path.
 */
import { NativeContextBinary } from './context-binary.js';
import { fileMappingSystem, type FileMappingSystem } from './file-mapping.js';
import { QnnSystemApi } from './function-table.js';
import { checkGraphNamesUnique, readBinaryInfo, type QnnBinaryInfo } from './metadata.js';
import { selectSystemProvider, type QnnSystemProviderSource } from './providers.js';

/** The platform's file mapping, or null where it has none (see file-mapping.ts). */
function platformMapping(): FileMappingSystem | null {
  try {
    return fileMappingSystem();
  } catch {
    return null;
  }
}

/**
 * Reads the binary info of each of `paths` (a model's `ctx-bins`, in order) through the system
 * provider of `source`. Graph names must be unique across the binaries, as a session needs them.
 * Each binary is mapped read-only through `mapping` (so QnnSystem pages in only the header and
 * graph tables it parses, not a whole multi-GiB binary), or read when it is null, and released
 * before the next.
 * @throws QnnProviderError when `source` offers no supported system API; QnnContextBinaryError
 * naming the file when it cannot be opened, is empty, or its binary info cannot be decoded;
 * QnnError naming the call and the file when QnnSystem rejects it (e.g. a truncated binary).
 */
export async function readContextBinaryInfos(
  source: QnnSystemProviderSource,
  paths: readonly string[],
  mapping: FileMappingSystem | null = platformMapping(),
): Promise<QnnBinaryInfo[]> {
  const system = new QnnSystemApi(selectSystemProvider(source));
  const infos: QnnBinaryInfo[] = [];
  const binaryOf = new Map<string, string>();
  for (const path of paths) {
    const binary = mapping === null ? await NativeContextBinary.read(path) : NativeContextBinary.map(path, mapping);
    let info: QnnBinaryInfo;
    try {
      info = readBinaryInfo(system, binary.pointer, binary.byteLength, null, path);
    } finally {
      binary.free();
    }
    checkGraphNamesUnique(info, path, (name) => binaryOf.get(name));
    for (const graph of info.graphs) binaryOf.set(graph.name, path);
    infos.push(info);
  }
  return infos;
}
