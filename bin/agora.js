#!/usr/bin/env node
// Entry point of the `agora` CLI. Node >= 22.18 runs the TypeScript sources directly (type stripping).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `agora needs Node >= 22.18 (found ${process.versions.node}). Run it through npm (\`npx agora\`), which uses the project's Node 24, or install Node 24.`,
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
