import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by the sessiontrack server at `/`: assets under /assets/ with content
// hashes in their names (cached for a year), index.html revalidated on every load.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
});
