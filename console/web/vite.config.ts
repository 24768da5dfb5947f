import { defineConfig } from 'vite';

// The console is served at the site root by polaris-server's console listener, which answers
// index.html for deep links: asset URLs must therefore be absolute ('/assets/...').
export default defineConfig({
  base: '/',
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
