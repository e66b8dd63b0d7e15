/**
 * `agora ask "TEXT"` (one shot) and `agora chat` (a REPL): say what you want; Agora shows what will
 * happen, asks, acts, and reports the transaction. Thin: src/agent/loop.ts does the work.
 */
import { createInterface, type Interface } from 'node:readline/promises';
import type { Command } from 'commander';
import { handleText, type LoopDeps, type Turn } from '../../agent/loop.ts';
import { describePlan, type Plan } from '../../agent/plan.ts';
import { homeParser } from '../../agent/session.ts';
import { SpendLedger } from '../../agent/spend-ledger.ts';
import { listContacts } from '../../wallet/contacts.ts';
import { cliAgentEnv } from '../agent-env.ts';
import type { CliContext } from '../context.ts';
import { jsonReplacer } from '../output.ts';
import { understand } from './agent.ts';

type Ctx = (cmd: Command) => CliContext;
type AskOptions = { yes?: boolean; policy?: string; confirm?: string; llm?: string; model?: string };

async function loopDeps(c: CliContext, o: AskOptions, confirm: LoopDeps['confirm']): Promise<LoopDeps> {
  const env = await cliAgentEnv(c, o.policy);
  const embedded = homeParser(c.home);
  const parse =
    o.llm === undefined && o.model === undefined
      ? embedded
      : (text: string) =>
          understand(
            text,
            { llm: o.llm, model: o.model },
            listContacts(c.home).map((x) => x.name),
          );
  return { env, parse, confirm, yes: o.yes, ledger: new SpendLedger(c.home) };
}

export function planJson(p: Plan): Record<string, unknown> {
  return {
    tool: p.tool.name,
    args: p.call.args,
    movesValue: p.tool.movesValue,
    summary: p.summary,
    details: p.lines,
    params: p.params,
    needsConfirmation: p.needsConfirmation,
    hash: p.hash,
  };
}

export function turnJson(t: Turn): Record<string, unknown> {
  switch (t.kind) {
    case 'clarify':
      return { kind: t.kind, clarify: t.question };
    case 'error':
      return {
        kind: t.kind,
        error: { code: t.code, message: t.message, hint: t.hint },
        plan: t.plan && planJson(t.plan),
      };
    case 'declined':
      return { kind: t.kind, reason: t.reason, plan: planJson(t.plan) };
    case 'done':
      return {
        kind: t.kind,
        plan: t.plan && planJson(t.plan),
        confirmedBy: t.confirmedBy ?? null,
        result: t.result,
      };
  }
}

export function turnText(t: Turn): string {
  switch (t.kind) {
    case 'clarify':
      return t.question;
    case 'error':
      return `error: ${t.message}${t.hint ? `\nhint: ${t.hint}` : ''}`;
    case 'declined':
      return `${t.reason}; nothing was done. To run exactly this later: agora ask "…" --confirm ${t.plan.hash}`;
    case 'done':
      return `${t.result.summary}${t.result.txHash ? `\ntx ${t.result.txHash}` : ''}`;
  }
}

function planPrompt(p: Plan): string {
  return `${describePlan(p)}\n  confirmation code ${p.hash}\nProceed? [y/N] `;
}

const isYes = (s: string) => /^\s*(y|yes)\s*$/i.test(s);

export function registerAskCommands(program: Command, ctx: Ctx): void {
  program
    .command('ask')
    .argument('<text...>', 'what you want, in words ("send 5 AGORA to alice")')
    .option('--yes', 'confirm on your behalf, but only within the spending policy (--policy)')
    .option('--policy <file>', 'spending policy JSON (caps per period, counterparties, contracts, expiry)')
    .option('--confirm <hash>', 'run only if the plan hashes to exactly this confirmation code')
    .option('--llm <url>', 'understand the text with an OpenAI-compatible endpoint (e.g. Ollama)')
    .option('--model <name>', 'model name for --llm')
    .description('say what you want: Agora shows what will happen, asks, acts, and reports the tx')
    .action(async (words: string[], o: AskOptions, cmd: Command) => {
      const c = ctx(cmd);
      const text = words.join(' ');
      const confirm = async (p: Plan): Promise<boolean> => {
        if (o.confirm !== undefined) return o.confirm.toLowerCase() === p.hash.toLowerCase();
        process.stderr.write(planPrompt(p));
        const rl = createInterface({ input: process.stdin, terminal: false });
        const line = await new Promise<string>((resolve) => {
          rl.once('line', resolve);
          rl.once('close', () => resolve(''));
        });
        rl.close();
        return isYes(line);
      };
      const turn = await handleText(await loopDeps(c, o, confirm), text);
      c.out.result(JSON.parse(JSON.stringify(turnJson(turn), jsonReplacer)), () => turnText(turn));
      if (turn.kind === 'error') process.exitCode = 1;
      if (turn.kind === 'declined') process.exitCode = 3;
    });

  program
    .command('chat')
    .option('--yes', 'confirm on your behalf, but only within the spending policy (--policy)')
    .option('--policy <file>', 'spending policy JSON')
    .option('--llm <url>', 'understand the text with an OpenAI-compatible endpoint (e.g. Ollama)')
    .option('--model <name>', 'model name for --llm')
    .description('talk to Agora: one request per line; value moves only after you confirm')
    .action(async (o: AskOptions, cmd: Command) => {
      const c = ctx(cmd);
      // Unlock first: a password prompt must never share stdin with the conversation.
      const deps0 = await loopDeps(c, o, undefined);
      await deps0.env.account();
      const rl: Interface = createInterface({
        input: process.stdin,
        output: process.stderr,
        terminal: process.stdin.isTTY,
      });
      const lines = rl[Symbol.asyncIterator]();
      const next = async (prompt: string): Promise<string | undefined> => {
        process.stderr.write(prompt);
        const r = await lines.next();
        return r.done ? undefined : r.value;
      };
      const deps: LoopDeps = { ...deps0, confirm: async (p) => isYes((await next(planPrompt(p))) ?? '') };
      process.stderr.write(
        'Agora chat: say what you want ("what\'s my balance", "send 5 AGORA to alice"); "quit" ends.\n',
      );
      for (;;) {
        const line = await next('> ');
        if (line === undefined || /^\s*(quit|exit|bye)\s*$/i.test(line)) break;
        if (!line.trim()) continue;
        const turn = await handleText(deps, line);
        if (c.out.json) process.stdout.write(`${JSON.stringify(turnJson(turn), jsonReplacer)}\n`);
        else process.stdout.write(`${turnText(turn)}\n`);
      }
      rl.close();
    });
}
