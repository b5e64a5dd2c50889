import {
  assertLoadable, ConfigError, ConfigFileError, loadConfigFile, missingFiles, summarizeConfig, type LoadedConfig,
} from '../../runtime/config/index.js';
import { NotSupportedError } from '../../errors.js';
import type { CliIO, Command } from '../io.js';

const USAGE = `usage: genie-ts config check FILE

  check FILE   validate a Genie JSON config against the schema and print a summary;
               files it names need not exist yet (missing ones are listed as warnings)

exit status: 0 valid, 1 invalid config, 2 unreadable file, invalid JSON or bad usage
`;

/** The loaded config, or the exit code after reporting why there is none. */
async function loadOrReport(file: string, io: CliIO): Promise<LoadedConfig | number> {
  try {
    return await loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigFileError) {
      io.stderr(`genie-ts config check: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      const count = error.issues.length;
      io.stderr(`${error.file ?? file}: ${count} error${count === 1 ? '' : 's'}\n`);
      for (const issue of error.issues) io.stderr(`  ${issue.path}: ${issue.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function check(file: string, io: CliIO): Promise<number> {
  const loaded = await loadOrReport(file, io);
  if (typeof loaded === 'number') return loaded;
  const { config } = loaded;
  for (const path of missingFiles(config)) io.stderr(`warning: file not found: ${path}\n`);
  try {
    assertLoadable(config);
  } catch (error) {
    if (!(error instanceof NotSupportedError)) throw error;
    io.stderr(`warning: valid Genie config, but this runtime cannot run it: ${error.message}\n`);
  }
  io.stdout(`ok\n${summarizeConfig(config)}\n`);
  return 0;
}

/** `genie-ts config check FILE`. */
export const configCommand: Command = async (args, io) => {
  const [subcommand, file, ...extra] = args;
  if (subcommand === '-h' || subcommand === '--help') {
    io.stdout(USAGE);
    return 0;
  }
  if (subcommand !== 'check' || file === undefined || extra.length > 0) {
    const problem =
      subcommand === undefined ? 'missing subcommand'
      : subcommand !== 'check' ? `unknown subcommand "${subcommand}"`
      : file === undefined ? 'missing FILE'
      : `unexpected argument "${extra[0]}"`;
    io.stderr(`genie-ts config: ${problem}\n${USAGE}`);
    return 2;
  }
  return check(file, io);
};
