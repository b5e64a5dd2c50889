/** The backend registry is the one list behind the config schema, the load check, the extensions and the factory. */
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import { openBackend } from '../../src/runtime/backend-factory.js';
import { BACKEND_EXTENSIONS, BACKEND_TYPES, RUNTIME_BACKEND_TYPES } from '../../src/runtime/backend-registry.js';
import { BACKEND_TYPES as SCHEMA_BACKEND_TYPES, PROJECT_EXTENSIONS, RUNTIME_BACKEND_TYPES as LOADABLE_TYPES } from '../../src/runtime/config/index.js';
import type { DerivedDialog } from '../../src/runtime/config/index.js';

describe('backend registry', () => {
  it("lists Genie's backend types then the extensions; genie-ts runs QnnHtp and Reference", () => {
    expect(BACKEND_TYPES).toEqual(['QnnHtp', 'QnnGpu', 'QnnGenAiTransformer', 'Reference']);
    expect(RUNTIME_BACKEND_TYPES).toEqual(['QnnHtp', 'Reference']);
    expect(BACKEND_EXTENSIONS.map((e) => e.type)).toEqual(['Reference']);
  });

  it('is what the config schema, the load check and the project extensions export', () => {
    expect(SCHEMA_BACKEND_TYPES).toBe(BACKEND_TYPES);
    expect(LOADABLE_TYPES).toBe(RUNTIME_BACKEND_TYPES);
    expect(PROJECT_EXTENSIONS[0]).toEqual({ key: 'engine.backend.type: "Reference"', description: BACKEND_EXTENSIONS[0].description });
  });

  it('openBackend rejects a valid Genie backend type genie-ts does not run', async () => {
    const config = { backendType: 'QnnGpu', ctxBins: ['model.bin'] } as unknown as DerivedDialog;
    await expect(openBackend(config)).rejects.toThrow(NotSupportedError);
    await expect(openBackend(config)).rejects.toThrow('not supported yet: engine.backend.type "QnnGpu"');
  });
});
