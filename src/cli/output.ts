/**
 * CLI output: results go to stdout (one JSON document with --json, else human text); progress and
 * warnings go to stderr, so `--json` output stays machine-readable.
 */
export type Output = {
  json: boolean;
  /** Prints the command's result. */
  result(value: unknown, human?: () => string): void;
  /** A progress line for long work (stderr). */
  progress(message: string): void;
};

export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function createOutput(json: boolean, stdout = process.stdout, stderr = process.stderr): Output {
  return {
    json,
    result(value, human) {
      if (json || !human) stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
      else stdout.write(`${human()}\n`);
    },
    progress(message) {
      const stamp = new Date().toISOString().slice(11, 19);
      stderr.write(`[${stamp}] ${message}\n`);
    },
  };
}
