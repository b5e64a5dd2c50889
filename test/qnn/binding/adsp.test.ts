import { describe, expect, it } from 'vitest';
import { ADSP_SYSTEM_DIRS, QnnEnvironmentError, checkAdspLibraryPath } from '../../../src/qnn/binding/index.js';

const folders = (map: Record<string, string[]>) => (dir: string) => map[dir] ?? [];

describe('checkAdspLibraryPath (Android HTP)', () => {
  it('accepts a path whose folder holds a Skel and lists the system folders', () => {
    const value = `/data/local/tmp/qnn;${ADSP_SYSTEM_DIRS.join(';')}`;
    const check = checkAdspLibraryPath({ ADSP_LIBRARY_PATH: value }, folders({ '/data/local/tmp/qnn': ['libQnnHtpV75Skel.so', 'x.so'] }));
    expect(check.skels).toEqual([{ dir: '/data/local/tmp/qnn', arch: 75 }]);
    expect(check.warnings).toEqual([]);
  });

  it('warns about missing system folders', () => {
    const check = checkAdspLibraryPath({ ADSP_LIBRARY_PATH: '/q' }, folders({ '/q': ['libQnnHtpV79Skel.so'] }));
    expect(check.warnings).toEqual([
      'ADSP_LIBRARY_PATH does not list /system/lib/rfsa/adsp, /system/vendor/lib/rfsa/adsp, /dsp; QNN\'s docs require the system DSP folders in it',
    ]);
  });

  it('says which folders lack the Skel, and that the separator is a semicolon', () => {
    const call = () => checkAdspLibraryPath({ ADSP_LIBRARY_PATH: '/a:/b' }, folders({}));
    expect(call).toThrow(QnnEnvironmentError);
    expect(call).toThrow(
      'ADSP_LIBRARY_PATH="/a:/b" (it is semicolon-separated, not colon-separated): no folder in it holds a libQnnHtpV##Skel.so (looked in /a:/b)',
    );
    expect(() => checkAdspLibraryPath({ ADSP_LIBRARY_PATH: '/a;/b' }, folders({}))).toThrow(
      /^ADSP_LIBRARY_PATH="\/a;\/b": no folder in it holds a libQnnHtpV##Skel.so \(looked in \/a, \/b\); add the folder/,
    );
  });

  it('when unset, accepts a Skel in a default DSP folder and otherwise says to set it', () => {
    expect(checkAdspLibraryPath({}, folders({ '/vendor/lib/rfsa/adsp': ['libQnnHtpV73Skel.so'] })).skels).toEqual([
      { dir: '/vendor/lib/rfsa/adsp', arch: 73 },
    ]);
    expect(() => checkAdspLibraryPath({}, folders({}))).toThrow(QnnEnvironmentError);
    expect(() => checkAdspLibraryPath({}, folders({}))).toThrow(
      /^ADSP_LIBRARY_PATH is not set and no libQnnHtpV##Skel.so is in the default DSP folders .*; set ADSP_LIBRARY_PATH to "<folder with libQnnHtpV##Skel.so>;\/system\/lib\/rfsa\/adsp;\/system\/vendor\/lib\/rfsa\/adsp;\/dsp"$/,
    );
  });
});
