import { GenieError } from '../../errors.js';

/** One problem in a config: the JSON path it concerns (`dialog.context.size`) and what is wrong. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** A config that is valid JSON but breaks Genie's schema. Carries every issue found, not just the first. */
export class ConfigError extends GenieError {
  readonly issues: readonly ConfigIssue[];
  /** The file the config came from, when it was loaded from one. */
  readonly file: string | undefined;
  constructor(issues: readonly ConfigIssue[], file?: string) {
    super('INVALID_CONFIG', issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n'));
    this.issues = issues;
    this.file = file;
  }
}

/** A config file that cannot be read, or whose text is not JSON. */
export class ConfigFileError extends GenieError {
  readonly file: string;
  /** 1-based position of a JSON syntax error. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(file: string, message: string, position?: { line: number; column: number }, options?: { cause?: unknown }) {
    super('CONFIG_FILE', message, options);
    this.file = file;
    this.line = position?.line;
    this.column = position?.column;
  }
}
