import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureChannelGas } from '../../bench/gas-channels.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { type PayFixture, startPayFixture } from './fixture.ts';

let f: PayFixture;
beforeAll(async () => {
  f = await startPayFixture(3);
});
afterAll(async () => f?.stop());

describe('bench/gas-channels measureChannelGas', () => {
  it('measures every channel operation on a protocol deployment; settle stays under 100k', async () => {
    const deployment = await deployProtocol(f.conn, f.accounts[0]);
    const rows = await measureChannelGas({ conn: f.conn, deployment, accounts: f.accounts });
    for (const k of ['channel.open', 'channel.settle', 'channel.cooperativeClose', 'channel.withdraw']) {
      expect(rows[k]?.gas).toBeGreaterThan(21_000);
    }
    expect(rows['channel.settle'].gas).toBeLessThan(100_000);
  });

  it('deploys its own PaymentChannels when the deployment lacks one', async () => {
    const deployment = {
      chainId: f.conn.chainId,
      deployer: f.accounts[0].address,
      deployedAt: '',
      blockNumber: 0,
      contracts: { AgoraToken: f.token },
    };
    const rows = await measureChannelGas({ conn: f.conn, deployment, accounts: f.accounts });
    expect(rows['channel.settle'].gas).toBeLessThan(100_000);
  });
});
