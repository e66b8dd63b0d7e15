/**
 * solc-js wrapper: compiles `contracts/**\/*.sol` against OpenZeppelin from node_modules.
 * Used by `scripts/build-contracts.ts` and by the artifact staleness test.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';

export const compilerSettings = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
} as const;

export type CompiledContract = {
  name: string;
  sourcePath: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  deployedBytecodeSize: number;
};

export type CompileResult = {
  solcVersion: string;
  settings: typeof compilerSettings;
  contracts: CompiledContract[];
  warnings: string[];
};

/** Every `.sol` file under `<root>/contracts`, as forward-slash paths relative to root, sorted. */
export function listContractSources(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.sol')) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(join(root, 'contracts'));
  return out.sort();
}

/** Fingerprint of everything the artifacts depend on: our sources, OZ and solc versions, settings. */
export function contractSourcesFingerprint(root: string): string {
  const require = createRequire(join(root, 'package.json'));
  const h = createHash('sha256');
  const ozVersion = JSON.parse(
    readFileSync(require.resolve('@openzeppelin/contracts/package.json'), 'utf8'),
  ).version;
  const solcVersion = JSON.parse(readFileSync(require.resolve('solc/package.json'), 'utf8')).version;
  h.update(`oz=${ozVersion};solc=${solcVersion};settings=${JSON.stringify(compilerSettings)}\n`);
  for (const path of listContractSources(root)) {
    h.update(`${path}\n`);
    h.update(readFileSync(join(root, path)));
  }
  return h.digest('hex');
}

type SolcOutput = {
  errors?: {
    severity: 'error' | 'warning' | 'info';
    formattedMessage: string;
    sourceLocation?: { file: string };
  }[];
  contracts?: Record<
    string,
    Record<
      string,
      { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
    >
  >;
};

/** Compiles one file (path anywhere) plus its imports; nothing is written. */
export function compileSingleFile(root: string, file: string): CompileResult {
  return compileSources(
    root,
    { [`contracts/${basename(file)}`]: { content: readFileSync(file, 'utf8') } },
    dirname(file),
  );
}

/** Compiles all sources; throws with solc's formatted messages when any error occurs. */
export function compileContracts(root: string): CompileResult {
  const sources: Record<string, { content: string }> = {};
  for (const path of listContractSources(root))
    sources[path] = { content: readFileSync(join(root, path), 'utf8') };
  return compileSources(root, sources);
}

function compileSources(
  root: string,
  sources: Record<string, { content: string }>,
  extraDir?: string,
): CompileResult {
  const require = createRequire(join(root, 'package.json'));
  const solc = require('solc') as {
    compile: (
      input: string,
      cb: { import: (p: string) => { contents: string } | { error: string } },
    ) => string;
    version: () => string;
  };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...compilerSettings,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const findImports = (path: string) => {
    const candidates = [join(root, path), join(root, 'node_modules', path)];
    if (extraDir && path.startsWith('contracts/'))
      candidates.unshift(join(extraDir, path.slice('contracts/'.length)));
    for (const c of candidates) if (existsSync(c)) return { contents: readFileSync(c, 'utf8') };
    return { error: `import not found: ${path} (looked in contracts/ and node_modules/)` };
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  }
  const warnings = (output.errors ?? [])
    .filter((e) => e.severity === 'warning' && !e.sourceLocation?.file.startsWith('@openzeppelin/'))
    .map((e) => e.formattedMessage);
  const contracts: CompiledContract[] = [];
  for (const [sourcePath, byName] of Object.entries(output.contracts ?? {})) {
    if (!sourcePath.startsWith('contracts/')) continue;
    for (const [name, c] of Object.entries(byName)) {
      // Interfaces, abstract contracts and libraries without code are not deployable artifacts.
      if (!c.evm.bytecode.object) continue;
      contracts.push({
        name,
        sourcePath,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecodeSize: c.evm.deployedBytecode.object.length / 2,
      });
    }
  }
  contracts.sort((a, b) => a.name.localeCompare(b.name));
  return { solcVersion: solc.version(), settings: compilerSettings, contracts, warnings };
}
