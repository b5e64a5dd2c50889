import {
  ConfigError, ConfigFileError, configWarnings, loadConfigFile, missingFiles, summarizeConfig, unsupportedFeatures, type LoadedConfig,
} from '../../runtime/config/index.js';
import type { CliIO, Command } from '../io.js';

const USAGE = `usage: genie-ts config check FILE

  check FILE   validate a Genie JSON config the way Genie does and print a summary. Warnings (exit
               status still 0): files it names that do not exist yet, what genie-ts does not run
               (a dialog type, a backend, a key or a value Genie accepts), a key repeated below
               the top level (the last value is used, as in Genie)

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
  for (const warning of configWarnings(config)) io.stderr(`warning: ${warning.path}: ${warning.message}\n`);
  for (const path of missingFiles(config)) io.stderr(`warning: file not found: ${path}\n`);
  for (const unsupported of unsupportedFeatures(config)) {
    io.stderr(`warning: valid Genie config, but this runtime cannot run it: ${unsupported}\n`);
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
