/**
 * The LLM backend against recorded chat-completions exchanges (OpenAI/Ollama tool-calling format)
 * served by a fake endpoint on 127.0.0.1: valid calls come through; invented values, schema failures,
 * unknown tools, several calls, negations and injections become questions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionsUrl, groundingProblem, parseWithLlm } from '../../src/agent/llm.ts';
import { understand } from '../../src/cli/commands/agent.ts';
import { isAgoraError } from '../../src/errors.ts';
import { runCli } from '../helpers/cli.ts';

type Exchange = {
  text: string;
  contacts?: string[];
  response: unknown;
  expect: { tool: string; args: Record<string, unknown> } | { clarify: true | string };
  why?: string;
};

const exchanges = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures/llm-exchanges.json'), 'utf8'),
) as Exchange[];

let server: FastifyInstance;
let base: string;
const requests: { body: Record<string, unknown>; auth?: string }[] = [];

beforeAll(async () => {
  server = Fastify();
  server.post('/v1/chat/completions', async (req, reply) => {
    const body = req.body as { messages: { role: string; content: string }[] };
    requests.push({ body: req.body as Record<string, unknown>, auth: req.headers.authorization });
    const user = body.messages.findLast((m) => m.role === 'user')?.content;
    const ex = exchanges.find((e) => e.text === user);
    if (!ex) return reply.code(500).send({ error: `no recorded exchange for ${user}` });
    return ex.response;
  });
  server.post('/missing/v1/chat/completions', async (_req, reply) =>
    reply.code(404).send({ error: 'model "nope" not found, try pulling it first' }),
  );
  base = await server.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server?.close();
});

describe('LLM backend (OpenAI-compatible tool calling)', () => {
  it('accepts valid tool calls and turns every unsafe or invalid one into a question', async () => {
    for (const ex of exchanges) {
      const r = await parseWithLlm(ex.text, { url: base, model: 'qwen2.5:7b', contacts: ex.contacts });
      if ('clarify' in ex.expect) {
        expect('clarify' in r, `${ex.text} (${ex.why}): ${JSON.stringify(r)}`).toBe(true);
        if (typeof ex.expect.clarify === 'string') expect(r).toEqual({ clarify: ex.expect.clarify });
      } else {
        expect(r, ex.text).toEqual(ex.expect);
      }
    }
    // What the endpoint received: the model, the user's text, and the catalogue as OpenAI tools.
    const first = requests[0]!.body as {
      model: string;
      messages: { role: string; content: string }[];
      tools: { type: string; function: { name: string; parameters: { type: string } } }[];
    };
    expect(first.model).toBe('qwen2.5:7b');
    expect(first.messages.at(-1)).toEqual({ role: 'user', content: exchanges[0]!.text });
    expect(first.messages[0]!.content).toContain('alice, bob');
    const names = first.tools.map((t) => t.function.name);
    expect(names).toContain('token_transfer');
    expect(names).toContain('gov_vote');
    for (const t of first.tools) {
      expect(t.type).toBe('function');
      expect(t.function.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(t.function.parameters.type).toBe('object');
    }
  });

  it('says clearly when the endpoint is down or the model is missing', async () => {
    const missing = await parseWithLlm('hi', { url: `${base}/missing`, model: 'nope' }).catch((e) => e);
    expect(isAgoraError(missing) && missing.code).toBe('LLM_HTTP');
    expect(missing.hint).toContain('ollama pull nope');
    const down = await parseWithLlm('hi', { url: 'http://127.0.0.1:9', model: 'm', timeoutMs: 5000 }).catch(
      (e) => e,
    );
    expect(isAgoraError(down) && down.code).toBe('LLM_UNREACHABLE');
  });

  it('asks for --model with --llm, and --llm with --model', async () => {
    const noModel = await understand('hi', { llm: base }, undefined).catch((e) => e);
    expect(isAgoraError(noModel) && noModel.code).toBe('BAD_OPTION');
    const noUrl = await understand('hi', { model: 'm' }, undefined).catch((e) => e);
    expect(isAgoraError(noUrl) && noUrl.message).toContain('--model needs --llm');
    expect(await understand('send 5 to alice', {}, ['alice'])).toEqual({
      tool: 'token.transfer',
      args: { to: 'alice', amount: '5' },
    });
  });

  it('builds the chat-completions URL from a base URL', () => {
    expect(chatCompletionsUrl('http://127.0.0.1:11434')).toBe('http://127.0.0.1:11434/v1/chat/completions');
    expect(chatCompletionsUrl('http://127.0.0.1:8080/v1/')).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(chatCompletionsUrl('https://x.test/openai/v1/chat/completions')).toBe(
      'https://x.test/openai/v1/chat/completions',
    );
  });

  it('agora agent parse --llm URL --model NAME --json prints the validated call', async () => {
    const run = await runCli(
      [
        'agent',
        'parse',
        'pay bob two and a half',
        '--contacts',
        'alice,bob',
        '--llm',
        base,
        '--model',
        'qwen2.5:7b',
        '--json',
      ],
      { env: { AGORA_LLM_API_KEY: 'sk-test-not-a-secret' } },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ tool: 'token.transfer', args: { to: 'bob', amount: '2.5' } });
    expect(requests.at(-1)!.auth).toBe('Bearer sk-test-not-a-secret');
    expect(run.stdout + run.stderr).not.toContain('sk-test-not-a-secret');
  }, 90_000);

  it('model.query from an LLM: only the model and the input the user named', () => {
    const text = 'predict digit.json with http://127.0.0.1:8402';
    const ok = { model: 'http://127.0.0.1:8402', input: 'digit.json' };
    expect(groundingProblem(text, 'model.query', ok, undefined)).toBeUndefined();
    expect(
      groundingProblem(text, 'model.query', { ...ok, model: 'http://evil.example:8402' }, undefined),
    ).toMatch(/not in what you said/);
    expect(groundingProblem(text, 'model.query', { ...ok, input: '/etc/passwd' }, undefined)).toMatch(
      /input you did not give/,
    );
    expect(groundingProblem(`don't ${text}`, 'model.query', ok, undefined)).toBeDefined();
  });
});
