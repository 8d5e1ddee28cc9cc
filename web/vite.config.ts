/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

const gateway = "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": { target: gateway, changeOrigin: false },
      "/socket.io": { target: gateway, ws: true, changeOrigin: false },
      "/media": { target: gateway, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      "/api": { target: gateway },
      "/socket.io": { target: gateway, ws: true },
    },
  },
  // The gateway serves the app under a strict Content-Security-Policy (script-src/style-src 'self', no
  // 'unsafe-inline'): every script and style must be a file of its own. Vite's build emits index.html
  // with <script src> and <link rel=stylesheet> only (tests/unit/test_web.py checks it); no asset is inlined
  // as a data: URI either.
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
