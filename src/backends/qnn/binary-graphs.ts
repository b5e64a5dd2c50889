/**
 * The graphs of QNN context binaries from QnnSystem's binary info alone (`genie-ts inspect`): only
 * libQnnSystem (or the simulated provider's system part) is loaded; no backend, device or context is
 * created, so it works on a machine without an NPU, e.g. a laptop with the SDK.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import { readContextBinaryInfos } from '../../qnn/binding/binary-info-file.js';
import { toGraphSpec } from './graph-specs.js';
import { openSystemProvider, type QnnSystemOptions } from './provider.js';

/**
 * The graphs of `ctxBinPaths` (a model's ctx-bins in order: a graph's `ctxBin` indexes it) with
 * their IO tensors' dtypes, shapes and encodings, as the QnnHtp backend would report them.
 * @throws QnnLibraryNotFoundError / QnnLibraryLoadError naming libQnnSystem, and the errors of
 * `readContextBinaryInfos` naming the file.
 */
export async function readQnnGraphSpecs(ctxBinPaths: readonly string[], options: QnnSystemOptions = {}): Promise<GraphSpec[]> {
  if (ctxBinPaths.length === 0) throw new InvalidArgumentError('readQnnGraphSpecs: ctxBinPaths is empty');
  const infos = await readContextBinaryInfos(openSystemProvider(options, 'readQnnGraphSpecs'), ctxBinPaths);
  return infos.flatMap((info, ctxBin) => info.graphs.map((graph) => toGraphSpec(graph, ctxBin)));
}
