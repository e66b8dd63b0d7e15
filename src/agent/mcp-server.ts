/**
 * `agora mcp`: the tool catalogue over the Model Context Protocol (stdio), so any MCP client can drive
 * Agora. Calls are validated against the same schemas and planned by the same executors. A call that
 * changes anything runs only when confirmed: within the spending policy when the server was started
 * with `--yes`, else by the user through MCP elicitation (the client asks its user, showing the plan
 * and its confirmation code). A client that cannot ask its user gets the plan back, not the action:
 * the model driving the client can never confirm on the user's behalf.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { jsonReplacer } from '../cli/output.ts';
import { fromLlmToolName, llmToolName, TOOLS, toolJsonSchema } from './catalogue.ts';
import { decideAndAct, type LoopDeps, type Turn } from './loop.ts';
import { describePlan, type Plan } from './plan.ts';
import { planCall } from './tools.ts';

type Content = {
  content: { type: 'text'; text: string }[];
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
};

function reply(turn: Turn): Content {
  const plan = 'plan' in turn && turn.plan ? turn.plan : undefined;
  const { plan: _omit, ...rest } = turn as Turn & { plan?: Plan };
  const json = JSON.parse(JSON.stringify(rest, jsonReplacer)) as Record<string, unknown>;
  if (plan) json.plan = { tool: plan.tool.name, summary: plan.summary, details: plan.lines, hash: plan.hash };
  let text: string;
  switch (turn.kind) {
    case 'done':
      text = `${turn.result.summary}${turn.result.txHash ? ` (tx ${turn.result.txHash})` : ''}`;
      break;
    case 'declined':
      text = `Not done (${turn.reason}). Planned: ${describePlan(turn.plan)}`;
      break;
    case 'error':
      text = `Error: ${turn.message}${turn.hint ? ` (${turn.hint})` : ''}`;
      break;
    case 'clarify':
      text = turn.question;
      break;
  }
  return { content: [{ type: 'text', text }], isError: turn.kind !== 'done', structuredContent: json };
}

/**
 * `tools/call` as it arrives. Registered under `CallToolRequestSchema` itself, a call whose
 * arguments are not an object failed that schema's parse ahead of the SDK's own check of the call
 * and came back as -32603 "internal error" with zod's issue list; under this envelope the SDK's check
 * runs first and answers -32602 "invalid params".
 */
const TOOL_CALL_ENVELOPE = z.object({ method: z.literal('tools/call'), params: z.unknown() });

export function createMcpServer(deps: Omit<LoopDeps, 'confirm'>): Server {
  const server = new Server({ name: 'agora', version: '0.1.0' }, { capabilities: { tools: {} } });

  /** Asks the user through the client (MCP elicitation); false when the client cannot ask. */
  const askUser = async (plan: Plan): Promise<boolean> => {
    if (!server.getClientCapabilities()?.elicitation) return false;
    const r = await server.elicitInput({
      mode: 'form',
      message: `${describePlan(plan)}\nconfirmation code ${plan.hash}\nRun it?`,
      requestedSchema: {
        type: 'object',
        properties: { confirm: { type: 'boolean', title: 'Run it', description: plan.summary } },
        required: ['confirm'],
      },
    });
    return r.action === 'accept' && r.content?.confirm === true;
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: TOOLS.map((t) => ({
      name: llmToolName(t.name),
      description: `${t.description}${t.movesValue ? ' Moves value: runs only after the user confirms (or within the spending policy).' : ''}`,
      inputSchema: toolJsonSchema(t.name) as { type: 'object'; [k: string]: unknown },
      annotations: {
        readOnlyHint: !t.sendsTransaction && !/\.(add|remove)$/.test(t.name),
        destructiveHint: t.movesValue,
      },
    })),
  }));

  server.setRequestHandler(TOOL_CALL_ENVELOPE, async (raw) => {
    const req = CallToolRequestSchema.parse(raw); // the SDK has checked it by now
    const name = fromLlmToolName(req.params.name) ?? req.params.name;
    let plan: Plan;
    try {
      plan = await planCall(deps.env, { tool: name, args: req.params.arguments ?? {} });
    } catch (e) {
      const err = e as { code?: string; message?: string; hint?: string };
      return reply({
        kind: 'error',
        code: err.code ?? 'INTERNAL',
        message: err.message ?? String(e),
        hint: err.hint,
      });
    }
    return reply(await decideAndAct({ ...deps, confirm: askUser }, plan));
  });
  return server;
}
