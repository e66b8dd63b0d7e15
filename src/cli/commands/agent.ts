/**
 * `agora agent …`: the agent's commands. `agent parse TEXT` shows how a sentence is understood, as one
 * tool call of the catalogue (src/agent/catalogue.ts) or a question, with the embedded parser or, with
 * `--llm URL --model NAME`, any OpenAI-compatible chat endpoint. `registerAgentCommands` returns the
 * `agent` command so that other subcommands (`agent start`, …) can be added to it.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { parseWithLlm } from '../../agent/llm.ts';
import { parseCommand } from '../../agent/parse/index.ts';
import type { ParseResult } from '../../agent/parse/result.ts';
import { AgoraError } from '../../errors.ts';
import { contactsPath, listContacts } from '../../wallet/contacts.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

/**
 * The contact names the parser may resolve: `--contacts a,b,c` when given, else the home's saved
 * contacts (src/wallet/contacts.ts) when it has a contacts file.
 */
export function contactNamesFor(c: CliContext, option: string | undefined): string[] | undefined {
  if (option === undefined) {
    return existsSync(contactsPath(c.home)) ? listContacts(c.home).map((x) => x.name) : undefined;
  }
  return option
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export type ParseCliOptions = { contacts?: string; llm?: string; model?: string; timeout?: string };

/** Parses TEXT with the embedded parser, or with the LLM when `--llm` is given. */
export async function understand(
  text: string,
  o: ParseCliOptions,
  contacts: string[] | undefined,
): Promise<ParseResult> {
  if (o.llm === undefined) {
    if (o.model !== undefined) throw new AgoraError('BAD_OPTION', '--model needs --llm URL');
    return parseCommand(text, { contacts });
  }
  if (!o.model) {
    throw new AgoraError('BAD_OPTION', '--llm needs --model NAME', {
      hint: 'e.g. --llm http://127.0.0.1:11434 --model qwen2.5:7b',
    });
  }
  const timeoutMs = o.timeout === undefined ? undefined : Number(o.timeout) * 1000;
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw new AgoraError('BAD_OPTION', `--timeout must be seconds > 0, not "${o.timeout}"`);
  return parseWithLlm(text, {
    url: o.llm,
    model: o.model,
    contacts,
    apiKey: process.env.AGORA_LLM_API_KEY,
    timeoutMs,
  });
}

function describe(r: ParseResult): string {
  if ('clarify' in r) return `? ${r.clarify}`;
  const args = Object.entries(r.args)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');
  return args ? `${r.tool} ${args}` : r.tool;
}

export function registerAgentCommands(program: Command, ctx: Ctx): Command {
  const agent = program.command('agent').description('AI agents: understand requests in plain words');
  agent
    .command('parse')
    .argument('<text...>', 'what you would say, e.g. "send 5 AGORA to alice"')
    .description('show the tool call a sentence means (or the question it raises), without doing anything')
    .option('--contacts <names>', 'comma-separated contact names the sentence may refer to')
    .option(
      '--llm <url>',
      'OpenAI-compatible endpoint instead of the embedded parser (e.g. http://127.0.0.1:11434)',
    )
    .option('--model <name>', 'model name for --llm (e.g. qwen2.5:7b)')
    .option('--timeout <s>', 'seconds to wait for the LLM (default 120)')
    .action(async (words: string[], o: ParseCliOptions, cmd: Command) => {
      const c = ctx(cmd);
      const text = words.join(' ');
      const r = await understand(text, o, contactNamesFor(c, o.contacts));
      c.out.result(r, () => describe(r));
    });
  return agent;
}
