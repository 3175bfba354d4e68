/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// The server serves the build at /admin; `npm run dev` proxies /api to a local server.
export default defineConfig({
  base: "/admin/",
  plugins: [vue()],
  server: {
    proxy: { "/api": process.env.GONGDAN_API ?? "http://127.0.0.1:8000" },
  },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
