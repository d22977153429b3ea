import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Built into dist/, which the gateway serves at "/". `npm run dev` proxies the API to a
// gateway on 127.0.0.1:8000.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: {
    host: "127.0.0.1",
    proxy: { "/v1": "http://127.0.0.1:8000", "/api": "http://127.0.0.1:8000", "/health": "http://127.0.0.1:8000" },
  },
});
