/**
 * pino logger for nodes. Secrets are redacted by key name, wherever they appear in a log object, so
 * keys and passwords never reach a log even by accident.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

export const REDACTED_KEYS = ['privateKey', 'password', 'mnemonic', 'secret', 'seedPhrase', 'keystore'];

export type LoggerOptions = {
  name: string;
  level?: string;
  /** Log file (JSON lines). Default: stderr. */
  file?: string;
};

export function createLogger(opts: LoggerOptions): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  const destination = opts.file
    ? pino.destination({ dest: opts.file, mkdir: true, sync: false })
    : pino.destination(2);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.AGORA_LOG_LEVEL ?? 'info',
      redact: { paths, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination,
  );
}
