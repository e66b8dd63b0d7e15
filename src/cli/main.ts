/**
 * The `agora` command line. Commands are thin: they parse options, call the library, print results
 * (`--json` for machines), and turn AgoraErrors into a message, a hint and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { AgoraError, isAgoraError } from '../errors.ts';
import { registerAgentCommands } from './commands/agent.ts';
import { registerAgentAccountCommands } from './commands/agent-account.ts';
import { registerAskCommands } from './commands/ask.ts';
import { registerChainCommands } from './commands/chain.ts';
import { registerContactsCommands } from './commands/contacts.ts';
import { registerDataCommands } from './commands/data.ts';
import { registerDevnetCommand } from './commands/devnet.ts';
import { registerEarningsCommand } from './commands/earnings.ts';
import { registerGovCommands } from './commands/gov.ts';
import { registerJobCommands } from './commands/job.ts';
import { registerMcpCommand } from './commands/mcp.ts';
import { registerModelCommands } from './commands/model.ts';
import { registerModelsCommand } from './commands/models.ts';
import { registerNodeCommands } from './commands/node.ts';
import { registerPayCommands } from './commands/pay.ts';
import { registerQueryCommand } from './commands/query.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerWalletCommands } from './commands/wallet.ts';
import { registerWalletMoneyCommands } from './commands/wallet-money.ts';
import { type CliContext, createContext, type GlobalOptions } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('agora')
    .description('Agora: decentralized AI training, data provenance and payments on an EVM chain')
    .version('0.1.0')
    .option(
      '--home <dir>',
      'where wallets, deployments and node state live (default ~/.agora, or $AGORA_HOME)',
    )
    .option('--rpc <url>', 'EVM JSON-RPC endpoint (default http://127.0.0.1:8545, or $AGORA_RPC)')
    .option(
      '--wallet <address|name|file>',
      'which wallet signs: address, contact name or keystore (default: the only one in the home)',
    )
    .option('--devnet-account <index>', 'sign with devnet test account N (devnet chain 31337 only)')
    .option('--json', 'machine-readable JSON output on stdout')
    .showHelpAfterError()
    .exitOverride();

  const ctx = (cmd: Command): CliContext => createContext(cmd.optsWithGlobals() as GlobalOptions);
  registerWalletCommands(program, ctx);
  registerWalletMoneyCommands(program, ctx);
  registerContactsCommands(program, ctx);
  registerAskCommands(program, ctx);
  registerMcpCommand(program, ctx);
  registerChainCommands(program, ctx);
  registerDevnetCommand(program, ctx);
  registerDataCommands(program, ctx);
  registerModelCommands(program, ctx);
  registerEarningsCommand(program, ctx);
  registerJobCommands(program, ctx);
  registerNodeCommands(program, ctx);
  registerGovCommands(program, ctx);
  registerServeCommand(program, ctx);
  registerQueryCommand(program, ctx);
  registerModelsCommand(program, ctx);
  registerPayCommands(program, ctx);
  registerAgentAccountCommands(registerAgentCommands(program, ctx), ctx);
  for (const sub of program.commands) {
    sub.exitOverride();
    for (const leaf of sub.commands) leaf.exitOverride();
  }
  return program;
}

function reportError(e: unknown, json: boolean): number {
  if (e instanceof CommanderError) {
    // Commander already printed usage errors; help and version exit 0.
    return e.exitCode;
  }
  const err = isAgoraError(e)
    ? e
    : new AgoraError('INTERNAL', (e as Error)?.message ?? String(e), { cause: e });
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint } }, null, 2)}\n`,
    );
  }
  process.stderr.write(`error: ${err.message}\n`);
  if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  if (!isAgoraError(e) && process.env.AGORA_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  return isAgoraError(e) ? 1 : 2;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e, argv.includes('--json'));
  }
}
