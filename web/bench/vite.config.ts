// Builds the typing benchmark's page (bench/index.html) with the app's plugins; typing_bench.py runs it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

const web = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: web,
  plugins: [react(), tailwindcss()],
  build: {
    outDir: process.env.BENCH_OUT ?? "/tmp/bench-typing-dist",
    emptyOutDir: true,
    rollupOptions: { input: fileURLToPath(new URL("index.html", import.meta.url)) },
  },
});
