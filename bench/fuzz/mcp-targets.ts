/**
 * `agent/mcp`: tool calls to `agora mcp` (src/agent/mcp-server.ts) through the real
 * `@modelcontextprotocol/sdk` client over an in-memory transport, against the embedded chain with
 * the protocol deployed and a paid `agora serve` on 127.0.0.1 (bench/fuzz/world.ts).
 *
 * A case is one `tools/call`: a tool name (the catalogue's, dotted, near misses, random) and
 * arguments (the valid calls of every tool, mutated; arrays, strings and null in place of the
 * object), from one of three clients: one that cannot ask its user (every change comes back as a
 * plan, not done), one whose user declines, and one whose user answers the confirmation, mostly
 * yes, sometimes with a malformed answer. Confirmed calls run for real on the embedded chain, as the
 * agent's own tests run them (tools.test.ts, mcp.test.ts, model-query.test.ts); `wallet.fund` and
 * `rewards.claim`, which no test runs as a tool, are planned but never confirmed. What leaves the
 * machine is cut off before the call: a URL that is not on 127.0.0.1 becomes the local server's, and
 * a file path (data.add's file, model.query's input) is taken inside a scratch folder of small files.
 *
 * Contract: every call answers, with a result (`content` text, `structuredContent`), a tool error
 * whose code is an AgoraError's (`INTERNAL`, or a Node error code such as `EISDIR`, is a raw
 * exception: a crash), or, for a request the
 * protocol itself refuses (arguments that are not an object), a JSON-RPC error that is not an
 * internal error; and the server still lists its tools afterwards.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { TOOL_NAMES } from '../../src/agent/catalogue.ts';
import type { AgentEnv } from '../../src/agent/env.ts';
import { createMcpServer } from '../../src/agent/mcp-server.ts';
import { agentEnv } from '../../src/agent/session.ts';
import { SpendLedger } from '../../src/agent/spend-ledger.ts';
import { AgoraError } from '../../src/errors.ts';
import { rememberEndpoints } from '../../src/serve/model-offers.ts';
import { addContact, listContacts } from '../../src/wallet/contacts.ts';
import { CLINIC_CSV, DIGITS } from '../../test/helpers/task-models.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { applyJsonOp, EDGE_JSON, type Json, jsonOp } from './mutate.ts';
import { acquireWorld, releaseWorld, type World } from './world.ts';

type Mode = 'cannot-ask' | 'declines' | 'answers';

type McpCase = {
  mode: Mode;
  /** The elicitation answer of the `answers` client. */
  answer: number;
  name: string;
  args: Json | undefined;
};

/** Tools whose executors no test runs as a tool: planned with any arguments, never confirmed. */
const NEVER_CONFIRMED = new Set(['wallet_fund', 'rewards_claim', 'wallet.fund', 'rewards.claim']);

/** The codes of exceptions that are not AgoraErrors (no AgoraError code has these forms). */
const RAW_CODE = /^(|INTERNAL|E[A-Z0-9]+|ERR_[A-Z0-9_]+)$/;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The confirmation answers a client can give (the first is an ordinary yes). */
const ANSWERS: unknown[] = [
  { action: 'accept', content: { confirm: true } },
  { action: 'accept', content: { confirm: true } },
  { action: 'accept', content: { confirm: true } },
  { action: 'accept', content: { confirm: 'true' } },
  { action: 'accept', content: { confirm: 1 } },
  { action: 'accept' },
  { action: 'accept', content: {} },
  { action: 'accept', content: { confirm: false } },
  { action: 'decline' },
  { action: 'cancel' },
  { action: 'accept', content: { confirm: true, extra: 'x'.repeat(1000) } },
];

function validCalls(serveUrl: string, data: string): Record<string, Json[]> {
  const predict = `${serveUrl}/v1/models/7/predict`;
  const pixels = JSON.stringify(Array.from({ length: 784 }, (_, i) => (i % 10) / 10));
  const addr = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
  return {
    'wallet.balance': [{}, { address: 'alice' }, { address: addr }, { address: 'me' }],
    'wallet.fund': [{}, { address: 'alice' }],
    'token.transfer': [
      { to: 'alice', amount: '3' },
      { to: addr, amount: '0.000000000000000001' },
      { to: 'me', amount: '2.5' },
    ],
    'contacts.add': [
      { name: 'bob', address: addr },
      { name: 'carol.eth', address: 'alice' },
    ],
    'contacts.list': [{}],
    'contacts.remove': [{ name: 'bob' }, { name: 'nobody' }],
    'data.add': [
      { file: join(data, 'rows.csv'), licence: 'MIT', sector: 'text' },
      { file: join(data, 'notes.txt'), licence: 'CC-BY-4.0', sector: 'text' },
      { file: join(data, 'rows.csv') },
      { file: data, licence: 'MIT', sector: 'vision' },
    ],
    'data.show': [{ datasetId: '1' }, { datasetId: '0' }, { datasetId: '99' }],
    'job.create': [
      { task: 'mnist-mlp', datasets: ['1'], workers: 2, rounds: 2, price: '1' },
      { task: 'mnist-mlp' },
      { task: 'text-byte-lm', workers: 1, rounds: 1, price: '0.5' },
    ],
    'job.status': [{ jobId: '1' }, { jobId: '0' }],
    'rewards.claim': [{ jobId: '1' }],
    'pay.open': [{ to: 'alice', amount: '10' }],
    'pay.close': [{ with: 'alice' }, { channelId: `0x${'ab'.repeat(32)}` }],
    'gov.vote': [
      { proposalId: '1', support: 'for', reason: 'yes' },
      { proposalId: '7', support: 'abstain' },
    ],
    'gov.delegate': [{ to: 'me' }, { to: 'alice' }],
    'gov.propose': [{ set: 'protocolFeeBps=150', title: 'lower fee' }, { set: 'treasury=alice' }],
    'model.query': [
      { model: predict, input: pixels },
      { model: 'mnist', input: pixels },
      { model: '7', input: `{"input": ${pixels}}` },
      { model: serveUrl, input: pixels },
      { model: predict, input: join(data, 'digit.png') },
      { model: predict, input: join(data, 'rows.csv') },
      { model: 'http://127.0.0.1:1/v1/models/7/predict', input: '[1, 2]' },
    ],
  };
}

/** Keeps a case on this machine: foreign URLs go to the local server, paths into the scratch folder. */
function confine(v: Json | undefined, tool: string, serveUrl: string, data: string): Json | undefined {
  const inData = (s: string) =>
    s.startsWith(`${data}/`) || s === data ? s : join(data, s.replace(/\.\.|[/\\]/g, '_'));
  const walk = (x: Json, key?: string): Json => {
    if (typeof x === 'string') {
      const t = x.trim();
      if (/^https?:/i.test(t)) {
        let host = '';
        try {
          host = new URL(t).hostname;
        } catch {}
        if (!LOOPBACK.has(host)) return `${serveUrl}/v1/models/7/predict`;
      }
      if (key === 'file' && tool.startsWith('data')) return inData(x);
      if (key === 'input' && tool.startsWith('model') && !t.startsWith('[') && !t.startsWith('{'))
        return inData(x);
      return x;
    }
    if (Array.isArray(x)) return x.map((y) => walk(y));
    if (x !== null && typeof x === 'object')
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y, k)]));
    return x;
  };
  return v === undefined ? undefined : walk(v);
}

type ToolReply = {
  content?: unknown;
  isError?: unknown;
  structuredContent?: { kind?: unknown; code?: unknown; message?: unknown };
};

export function mcpTargets(): FuzzTarget[] {
  let w: World | undefined;
  let env: AgentEnv | undefined;
  let data = '';
  let calls: Record<string, Json[]> = {};
  const clients = new Map<Mode, Client>();
  let answer: unknown = ANSWERS[0];

  const names = [
    ...TOOL_NAMES.map((n) => n.replace('.', '_')),
    ...TOOL_NAMES,
    'token__transfer',
    'TOKEN_TRANSFER',
    'token_transfer ',
    'wallet_balance_x',
    '',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'tools/list',
  ];

  const caseOf: fc.Arbitrary<McpCase> = fc
    .record({
      mode: fc.constantFrom<Mode>('cannot-ask', 'cannot-ask', 'declines', 'answers', 'answers'),
      answer: fc.nat(),
      tool: fc.nat(),
      name: fc.oneof(
        { weight: 12, arbitrary: fc.constant(null) },
        { weight: 2, arbitrary: fc.constantFrom(...names) },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
      ),
      mutate: fc.oneof(
        { weight: 1, arbitrary: fc.constant('valid') },
        { weight: 5, arbitrary: fc.constant('mutated') },
        { weight: 1, arbitrary: fc.constant('other') },
        { weight: 1, arbitrary: fc.constant('random') },
      ),
      ops: fc.array(jsonOp, { minLength: 1, maxLength: 3 }),
      random: fc.oneof(
        fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
        fc.constantFrom(...EDGE_JSON),
        fc.constant(undefined),
      ),
      pick: fc.nat(),
    })
    .map((r): McpCase => {
      const tool = TOOL_NAMES[r.tool % TOOL_NAMES.length];
      const valid = calls[tool] ?? [{}];
      const v = structuredClone(valid[r.pick % valid.length]);
      // another tool's valid arguments
      const other = calls[TOOL_NAMES[(r.tool + 1 + (r.pick % 7)) % TOOL_NAMES.length]] ?? [{}];
      const isObject = (x: Json | undefined) => x !== null && typeof x === 'object' && !Array.isArray(x);
      const mutated = (): Json => {
        const m = r.ops.reduce(applyJsonOp, structuredClone(v));
        // a mutation of the root replaces the whole object; keep most cases past the protocol's check
        if (isObject(m) || r.pick % 4 === 0) return m;
        const keys = Object.keys(v as object);
        return { ...(v as object), [keys.length ? keys[r.pick % keys.length] : 'x']: r.random ?? null };
      };
      const args =
        r.mutate === 'valid'
          ? v
          : r.mutate === 'mutated'
            ? mutated()
            : r.mutate === 'other'
              ? structuredClone(other[r.pick % other.length])
              : r.random;
      return {
        mode: r.mode,
        answer: r.answer,
        name: r.name ?? (r.pick % 5 === 0 ? tool : tool.replace('.', '_')),
        args: args ?? undefined,
      };
    });

  return [
    defineTarget({
      name: 'agent/mcp',
      boundary: 'tool calls to `agora mcp` (MCP client over an in-memory transport)',
      weight: 1,
      input: caseOf,
      async setup() {
        w = await acquireWorld();
        const home = join(w.dir, 'mcp-home');
        data = join(w.dir, 'mcp-data');
        mkdirSync(data, { recursive: true });
        copyFileSync(CLINIC_CSV, join(data, 'rows.csv'));
        writeFileSync(join(data, 'notes.txt'), 'one line\nanother line\n');
        writeFileSync(join(data, 'empty.csv'), '');
        writeFileSync(join(data, 'bad.json'), '{"input": [1, 2');
        copyFileSync(join(DIGITS, '0', '00005.png'), join(data, 'digit.png'));
        rememberEndpoints(home, [w.serve.url!]);
        const me = w.f.accounts[2]!;
        env = agentEnv({
          home,
          conn: w.f.conn,
          deployment: w.f.deployment,
          address: me.address,
          unlock: async () => me,
        });
        addContact(home, 'alice', w.f.accounts[5]!.address);
        calls = validCalls(w.serve.url!, data);
        for (const mode of ['cannot-ask', 'declines', 'answers'] as const) {
          const server = createMcpServer({
            env,
            ledger: new SpendLedger(home),
            parse: () => ({ clarify: '' }),
          });
          const client = new Client(
            { name: `fuzz-${mode}`, version: '1' },
            { capabilities: mode === 'cannot-ask' ? {} : { elicitation: { form: {} } } },
          );
          if (mode !== 'cannot-ask') {
            client.setRequestHandler(ElicitRequestSchema, async () =>
              mode === 'declines' ? { action: 'decline' } : (answer as { action: 'accept' }),
            );
          }
          const [a, b] = InMemoryTransport.createLinkedPair();
          await Promise.all([server.connect(b), client.connect(a)]);
          clients.set(mode, client);
        }
      },
      async teardown() {
        for (const c of clients.values()) await c.close();
        clients.clear();
        if (w) releaseWorld();
        w = undefined;
      },
      async run(c: McpCase): Promise<Outcome> {
        const home = env!.home;
        // a confirmed contacts.remove may have removed the contact the valid calls name
        if (!listContacts(home).some((x) => x.name === 'alice'))
          addContact(home, 'alice', w!.f.accounts[5]!.address);
        const mode = c.mode === 'answers' && NEVER_CONFIRMED.has(c.name) ? 'declines' : c.mode;
        answer = ANSWERS[c.answer % ANSWERS.length];
        const client = clients.get(mode)!;
        const args = confine(c.args, c.name.replace('_', '.'), w!.serve.url!, data);
        const where = `${c.name}(${JSON.stringify(args)?.slice(0, 200)}) [${mode}]`;
        let r: ToolReply | undefined;
        let failure: unknown;
        try {
          r = (await client.callTool({
            name: c.name,
            arguments: args as Record<string, unknown> | undefined,
          })) as ToolReply;
        } catch (e) {
          failure =
            e instanceof McpError && e.code !== ErrorCode.InternalError && e.message
              ? new AgoraError(`MCP_${e.code}`, e.message)
              : new Error(`${where}: ${(e as Error).name}: ${(e as Error).message}`);
        }
        // the server is still there
        const tools = await clients.get(mode)!.listTools();
        if (tools.tools.length !== TOOL_NAMES.length)
          throw new Error(`${where}: the server lists ${tools.tools.length} tools`);
        if (failure !== undefined || r === undefined) throw failure;
        const content = r.content as { type?: unknown; text?: unknown }[] | undefined;
        if (
          !Array.isArray(content) ||
          content.length === 0 ||
          typeof content[0].text !== 'string' ||
          content[0].text === ''
        )
          throw new Error(`${where}: a reply without text: ${JSON.stringify(r).slice(0, 300)}`);
        const s = r.structuredContent;
        if (s === null || typeof s !== 'object') throw new Error(`${where}: no structuredContent`);
        if (!r.isError) {
          if (s.kind !== 'done') throw new Error(`${where}: not an error, yet ${String(s.kind)}`);
          return 'accepted';
        }
        if (s.kind === 'declined') return 'accepted'; // a valid plan, not confirmed
        if (s.kind !== 'error') throw new Error(`${where}: an error of kind ${String(s.kind)}`);
        // INTERNAL: an error without a code; E…/ERR_…: Node's own (EISDIR, ERR_INVALID_ARG_VALUE)
        if (typeof s.code !== 'string' || RAW_CODE.test(s.code))
          throw new Error(`${where}: a raw exception: ${String(s.message).slice(0, 300)}`);
        if (typeof s.message !== 'string' || s.message === '')
          throw new Error(`${where}: an error without a message`);
        throw new AgoraError(s.code, s.message);
      },
    }),
  ];
}
