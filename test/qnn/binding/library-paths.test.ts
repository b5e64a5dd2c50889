import { describe, expect, it } from 'vitest';
import {
  BACKEND_LIB_ENV,
  QnnLibraryNotFoundError,
  SYSTEM_LIB_ENV,
  libraryFileName,
  resolveQnnLibrary,
  type LibraryHost,
} from '../../../src/qnn/binding/index.js';

function host(overrides: Partial<LibraryHost> & { files?: string[] } = {}): LibraryHost {
  const files = new Set(overrides.files ?? []);
  return {
    platform: overrides.platform ?? 'linux',
    arch: overrides.arch ?? 'arm64',
    env: overrides.env ?? {},
    execPath: overrides.execPath ?? '/opt/node/bin/node',
    exists: (path) => files.has(path),
  };
}

describe('library file names', () => {
  it('follow the platform convention', () => {
    expect(libraryFileName('QnnHtp', 'linux')).toBe('libQnnHtp.so');
    expect(libraryFileName('QnnHtp', 'android')).toBe('libQnnHtp.so');
    expect(libraryFileName('QnnHtp', 'win32')).toBe('QnnHtp.dll');
    expect(libraryFileName('QnnSystem', 'darwin')).toBe('libQnnSystem.dylib');
  });
});

describe('resolveQnnLibrary', () => {
  it('finds the default library through LD_LIBRARY_PATH before the default folders', () => {
    const h = host({ env: { LD_LIBRARY_PATH: '/a:/sdk/lib' }, files: ['/sdk/lib/libQnnHtp.so', '/usr/lib/libQnnHtp.so'] });
    const found = resolveQnnLibrary('backend', undefined, 'QnnHtp', h);
    expect(found.path).toBe('/sdk/lib/libQnnHtp.so');
    expect(found.searched).toEqual(['/a/libQnnHtp.so', '/sdk/lib/libQnnHtp.so']);
  });

  it('falls back to the loader default folders', () => {
    const found = resolveQnnLibrary('system', undefined, 'QnnSystem', host({ files: ['/usr/lib/libQnnSystem.so'] }));
    expect(found.path).toBe('/usr/lib/libQnnSystem.so');
  });

  it('lists every place it looked when the library is missing', () => {
    const h = host({ env: { LD_LIBRARY_PATH: '/x:/y' } });
    let error: unknown;
    try {
      resolveQnnLibrary('backend', undefined, 'QnnHtp', h);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QnnLibraryNotFoundError);
    const e = error as QnnLibraryNotFoundError;
    expect(e.searched.slice(0, 2)).toEqual(['/x/libQnnHtp.so', '/y/libQnnHtp.so']);
    expect(e.searched).toContain('/usr/lib/libQnnHtp.so');
    expect(e.searched).toContain('/usr/lib/aarch64-linux-gnu/libQnnHtp.so');
    for (const path of e.searched) expect(e.message).toContain(path);
    expect(e.message).toMatch(/^QNN backend library "libQnnHtp.so" not found; looked in: \/x\/libQnnHtp.so, \/y\/libQnnHtp.so, /);
    expect(e.message).toContain(`set option backendLibrary or environment ${BACKEND_LIB_ENV}`);
  });

  it('takes the API option over the environment, and a path must exist', () => {
    const h = host({ env: { [BACKEND_LIB_ENV]: '/env/libQnnHtp.so' }, files: ['/env/libQnnHtp.so', '/opt/libQnnCpu.so'] });
    expect(resolveQnnLibrary('backend', '/opt/libQnnCpu.so', 'QnnHtp', h).path).toBe('/opt/libQnnCpu.so');
    expect(resolveQnnLibrary('backend', undefined, 'QnnHtp', h).path).toBe('/env/libQnnHtp.so');
    expect(() => resolveQnnLibrary('backend', '/nope/libQnnHtp.so', 'QnnHtp', h)).toThrow(QnnLibraryNotFoundError);
    expect(() => resolveQnnLibrary('backend', '/nope/libQnnHtp.so', 'QnnHtp', h)).toThrow(
      'QNN backend library not found: option backendLibrary "/nope/libQnnHtp.so" does not exist',
    );
    const envOnly = host({ env: { [SYSTEM_LIB_ENV]: '/gone/libQnnSystem.so' } });
    expect(() => resolveQnnLibrary('system', undefined, 'QnnSystem', envOnly)).toThrow(
      `QNN system library not found: environment ${SYSTEM_LIB_ENV} "/gone/libQnnSystem.so" does not exist`,
    );
  });

  it('searches a bare file name given as option or environment like the default', () => {
    const h = host({ env: { LD_LIBRARY_PATH: '/sdk', [BACKEND_LIB_ENV]: 'libQnnCpu.so' }, files: ['/sdk/libQnnCpu.so'] });
    expect(resolveQnnLibrary('backend', undefined, 'QnnHtp', h).path).toBe('/sdk/libQnnCpu.so');
    expect(() => resolveQnnLibrary('backend', 'libQnnGpu.so', 'QnnHtp', h)).toThrow(
      /^QNN backend library "libQnnGpu.so" \(from option backendLibrary\) not found; looked in: \/sdk\/libQnnGpu.so,/,
    );
  });

  it('searches the Node folder then PATH on Windows, and the vendor folders on Android', () => {
    const win = host({
      platform: 'win32',
      execPath: 'C:\\node\\node.exe',
      env: { PATH: 'C:\\qairt\\lib;C:\\Windows' },
      files: ['C:\\qairt\\lib\\QnnHtp.dll'],
    });
    const found = resolveQnnLibrary('backend', undefined, 'QnnHtp', win);
    expect(found.path).toBe('C:\\qairt\\lib\\QnnHtp.dll');
    expect(found.searched).toEqual(['C:\\node\\QnnHtp.dll', 'C:\\qairt\\lib\\QnnHtp.dll']);
    const android = host({ platform: 'android', files: ['/vendor/lib64/libQnnHtp.so'] });
    expect(resolveQnnLibrary('backend', undefined, 'QnnHtp', android).path).toBe('/vendor/lib64/libQnnHtp.so');
  });
});
