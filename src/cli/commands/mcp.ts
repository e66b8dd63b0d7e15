/** `agora mcp`: serve the tool catalogue over MCP on stdio (src/agent/mcp-server.ts). */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Command } from 'commander';
import { createMcpServer } from '../../agent/mcp-server.ts';
import { homeParser } from '../../agent/session.ts';
import { SpendLedger } from '../../agent/spend-ledger.ts';
import { cliAgentEnv } from '../agent-env.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerMcpCommand(program: Command, ctx: Ctx): void {
  program
    .command('mcp')
    .option('--yes', 'confirm value-moving calls within the spending policy (--policy) without asking')
    .option('--policy <file>', 'spending policy JSON')
    .description('serve Agora’s tools over the Model Context Protocol (stdio) for any MCP client')
    .action(async (o: { yes?: boolean; policy?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const env = await cliAgentEnv(c, o.policy);
      const server = createMcpServer({
        env,
        parse: homeParser(c.home),
        yes: o.yes,
        ledger: new SpendLedger(c.home),
      });
      const transport = new StdioServerTransport();
      const closed = new Promise<void>((resolve) => {
        transport.onclose = () => resolve();
        process.stdin.on('end', () => resolve());
      });
      await server.connect(transport);
      c.out.progress(`agora mcp: serving on stdio for ${env.address} on chain ${env.conn.chainId}`);
      await closed;
      await server.close();
    });
}
