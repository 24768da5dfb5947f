import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/**
 * Writes a Brotli (`.br`) and a gzip (`.gz`) copy beside every script and style sheet, at the
 * highest levels, so that the server sends them as they are instead of compressing per request.
 */
function precompress(): Plugin {
  return {
    name: 'polaris-precompress',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const [name, item] of Object.entries({ ...bundle })) {
        if (!/\.(js|css|svg)$/.test(name)) continue;
        const source = item.type === 'chunk' ? item.code : item.source;
        const bytes = Buffer.from(source);
        if (bytes.length < 1024) continue;
        const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
        this.emitFile({ type: 'asset', fileName: `${name}.br`, source: br });
        this.emitFile({ type: 'asset', fileName: `${name}.gz`, source: gzipSync(bytes, { level: 9 }) });
      }
    },
  };
}

// The console is served at the site root by polaris-server's console listener, which answers
// index.html for deep links: asset URLs must therefore be absolute ('/assets/...').
export default defineConfig({
  base: '/',
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
    reportCompressedSize: true,
    rolldownOptions: {
      // Mantine marks its modules 'use client' for React Server Components; a browser bundle
      // has no use for the directive.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '^/(naming|config|core|maintain|console)/': 'http://127.0.0.1:8080',
    },
  },
});
