/** Starts a long-running `agora` command and waits for its first JSON document on stdout. */
import { type ChildProcess, spawn } from 'node:child_process';
import { AGORA_BIN } from './cli.ts';

export type Background<T> = { child: ChildProcess; value: T; stop(): Promise<void> };

export function startCliJson<T>(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  return new Promise<Background<T>>((resolve, reject) => {
    const child = spawn(process.execPath, [AGORA_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no JSON from agora ${args.join(' ')}\n${stderr}`));
    }, timeoutMs);
    const stop = () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      });
    child.stdout!.on('data', (d) => {
      stdout += d;
      try {
        const value = JSON.parse(stdout) as T;
        clearTimeout(timer);
        resolve({ child, value, stop });
      } catch {}
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agora ${args.join(' ')} exited with ${code}\n${stderr}`));
    });
  });
}
