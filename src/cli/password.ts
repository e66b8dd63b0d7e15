/**
 * Wallet passwords come from `AGORA_PASSWORD` or an interactive prompt with echo off. Never logged.
 */
import { AgoraError } from '../errors.ts';

async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new AgoraError(
      'PASSWORD_REQUIRED',
      'a wallet password is needed and there is no terminal to ask on',
      {
        hint: 'set AGORA_PASSWORD in the environment',
      },
    );
  }
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          cleanup();
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          cleanup();
          process.stderr.write('\n');
          reject(new AgoraError('PASSWORD_ABORTED', 'aborted at the password prompt'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const cleanup = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}

/** The wallet password: `AGORA_PASSWORD`, else a prompt (asked twice when `confirm`). */
export async function getPassword(opts: { confirm?: boolean; purpose?: string } = {}): Promise<string> {
  const fromEnv = process.env.AGORA_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const first = await promptHidden(`${opts.purpose ?? 'Wallet password'}: `);
  if (opts.confirm) {
    const second = await promptHidden('Repeat password: ');
    if (first !== second)
      throw new AgoraError('PASSWORD_MISMATCH', 'the two passwords differ; nothing was written');
  }
  return first;
}
