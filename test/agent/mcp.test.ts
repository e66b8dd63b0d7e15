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
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { ServeService } from '../../src/serve/service.ts';
import { addContact } from '../../src/wallet/contacts.ts';
import { AGORA_BIN, tempHome } from '../helpers/cli.ts';
import { trainMnistModel } from '../helpers/mnist-model.ts';

type ToolReply = {
  content: { text: string }[];
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
};

describe('agora mcp (stdio, real MCP client, embedded chain over HTTP)', () => {
  let chain: EmbeddedChain;
  let token: `0x${string}`;
  let contracts: Record<string, `0x${string}`>;
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
    contracts = d.contracts as Record<string, `0x${string}`>;
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

  it('model_query: a prediction is bought only after the user confirms the plan through the client', async () => {
    const conn = await connectChain({ rpcUrl: chain.url });
    const d = { contracts };
    const trained = await trainMnistModel(`${home}/model`, { jobId: '2' });
    const store = new VoucherStore(`${home}/server.sqlite`);
    const service = new ServeService({
      models: [loadModelDir(trained.dir)],
      payment: {
        conn,
        account: devnetAccount(1),
        paymentChannels: d.contracts.PaymentChannels!,
        token: d.contracts.AgoraToken!,
        store,
        unitPrice: parseEther('0.001'),
        pollIntervalMs: 60_000,
      },
    });
    await service.start();
    try {
      const input = JSON.stringify(trained.samples[0]!.input);
      const mute = await connect('cannot-ask');
      const planned = (await mute.client.callTool({
        name: 'model_query',
        arguments: { model: service.url!, input },
      })) as ToolReply;
      expect(planned.isError).toBe(true);
      expect(planned.content[0]!.text).toMatch(
        /Not done[\s\S]*opens a payment channel[\s\S]*deposit of 0\.1 AGORA/,
      );
      await mute.client.close();
      expect(store.listChannels()).toEqual([]);

      const yes = await connect(true);
      const bought = (await yes.client.callTool({
        name: 'model_query',
        arguments: { model: service.url!, input },
      })) as ToolReply;
      expect(bought.isError, bought.content[0]?.text).toBeFalsy();
      expect(yes.asked[0]).toContain(trained.modelHash);
      expect(bought.content[0]!.text).toMatch(
        /class \d \(p = [\d.]+\) from model 0x[0-9a-f]{64} \(job 2\); paid 0\.001 AGORA/,
      );
      const result = (bought.structuredContent as { result: { data: { cumulative: string } } }).result;
      expect(result.data.cumulative).toBe('0.001');
      await yes.client.close();
    } finally {
      await service.stop();
    }
  }, 180_000);
});
