/** `agora …` child processes of a test, with their output collected, all killed at the end. */
import { type ChildProcess, spawn } from 'node:child_process';
import { AGORA_BIN } from './cli.ts';

export type Proc = { name: string; child: ChildProcess; out: string };

export type ProcGroup = {
  procs: Proc[];
  /** Starts `agora ARGS…` as its own process; stdout and stderr go to `out`. */
  start(name: string, args: string[]): Proc;
  /** SIGKILLs every process still running. */
  killAll(): void;
  /** The last `lines` lines of every process's output (printed when a test fails). */
  tails(lines?: number): string;
};

export function procGroup(): ProcGroup {
  const procs: Proc[] = [];
  return {
    procs,
    start(name, args) {
      const child = spawn(process.execPath, [AGORA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const p: Proc = { name, child, out: '' };
      child.stdout!.on('data', (d) => {
        p.out += d;
      });
      child.stderr!.on('data', (d) => {
        p.out += d;
      });
      procs.push(p);
      return p;
    },
    killAll() {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    },
    tails(lines = 40) {
      return procs
        .map(
          (p) =>
            `----- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.out.split('\n').slice(-lines).join('\n')}`,
        )
        .join('\n');
    },
  };
}
