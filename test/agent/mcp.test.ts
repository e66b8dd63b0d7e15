import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { writeDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { addContact } from '../../src/wallet/contacts.ts';
import { AGORA_BIN, tempHome } from '../helpers/cli.ts';

type ToolReply = {
  content: { text: string }[];
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
};

describe('agora mcp (stdio, real MCP client, embedded chain over HTTP)', () => {
  let chain: EmbeddedChain;
  let token: `0x${string}`;
  const home = tempHome('agora-mcp-');
  const alice = devnetAccount(5).address;

  async function connect(answer: boolean | 'cannot-ask'): Promise<{ client: Client; asked: string[] }> {
    const asked: string[] = [];
    const client = new Client(
      { name: 'test', version: '1' },
      { capabilities: answer === 'cannot-ask' ? {} : { elicitation: { form: {} } } },
    );
    if (answer !== 'cannot-ask') {
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        asked.push(String(req.params.message));
        return answer ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
      });
    }
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [AGORA_BIN, 'mcp', '--rpc', chain.url!, '--home', home, '--devnet-account', '4'],
      stderr: 'ignore',
    });
    await client.connect(transport);
    return { client, asked };
  }

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0 });
    const conn = await connectChain({ rpcUrl: chain.url });
    const d = await deployProtocol(conn, devnetAccount(0));
    writeDeployment(home, d);
    token = d.contracts.AgoraToken!;
    addContact(home, 'alice', alice);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('lists the catalogue and runs a value-moving tool only when the user confirms through the client', async () => {
    const conn = await connectChain({ rpcUrl: chain.url });
    const balance = () => tokenClient(conn, token).balanceOf(alice);
    const start = await balance();

    const yes = await connect(true);
    const tools = await yes.client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('token_transfer');
    expect(tools.tools.length).toBeGreaterThanOrEqual(16);
    const bal = (await yes.client.callTool({ name: 'wallet_balance', arguments: {} })) as ToolReply;
    expect(bal.isError, bal.content[0]?.text).toBeFalsy();
    expect(yes.asked).toEqual([]);
    const sent = (await yes.client.callTool({
      name: 'token_transfer',
      arguments: { to: 'alice', amount: '3' },
    })) as ToolReply;
    expect(sent.isError, sent.content[0]?.text).toBeFalsy();
    expect(sent.content[0]!.text).toMatch(/sent 3 AGORA to alice .*tx 0x[0-9a-f]{64}/);
    expect(yes.asked[0]).toMatch(
      /send 3 AGORA to alice \(0x[0-9a-fA-F]{40}\)[\s\S]*balance after[\s\S]*confirmation code 0x/,
    );
    expect((await balance()) - start).toBe(parseEther('3'));
    await yes.client.close();

    const no = await connect(false);
    const declined = (await no.client.callTool({
      name: 'token_transfer',
      arguments: { to: 'alice', amount: '4' },
    })) as ToolReply;
    expect(declined.isError).toBe(true);
    expect(declined.content[0]!.text).toMatch(/Not done \(not confirmed\)/);
    const invalid = (await no.client.callTool({
      name: 'token_transfer',
      arguments: { to: 'alice', amount: '4', confirmed: true },
    })) as ToolReply;
    expect(invalid.isError).toBe(true);
    await no.client.close();

    const mute = await connect('cannot-ask');
    const refused = (await mute.client.callTool({
      name: 'token_transfer',
      arguments: { to: 'alice', amount: '5' },
    })) as ToolReply;
    expect(refused.isError).toBe(true);
    await mute.client.close();
    expect((await balance()) - start).toBe(parseEther('3'));
  }, 180_000);
});
