import { defineConfig } from 'vite';

// The build goes into the Python package, where the server serves it at `/` (assets under `/assets/`).
// It is committed, so installing eliza-messaging needs no Node.js.
export default defineConfig({
  base: '/',
  build: {
    outDir: '../src/eliza_messaging/gateway/web/static',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` proxies the API and Socket.IO to a server started with `eliza-messaging serve`.
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/socket.io': { target: 'http://127.0.0.1:3000', ws: true },
    },
  },
});
