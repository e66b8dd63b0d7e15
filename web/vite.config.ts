/**
 * Builds the dashboard page (web/) into web/dist/ with fixed file names, which the node's status
 * server serves (src/dashboard/server.ts). `npm run build:dashboard` runs it and records the
 * sources' fingerprint (scripts/build-dashboard.ts).
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [preact({ devToolsInProd: false, prefreshEnabled: false })],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/app.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: 'assets/[name][extname]',
      },
    },
  },
});
