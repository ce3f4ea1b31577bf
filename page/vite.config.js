// Vite build of the page. `base: "./"` keeps every asset path relative, so the same dist/ works at the
// gateway's `/` and in an S3 website bucket. The API address is not built in: it is read at run time
// from config.json (see src/lib/config.js).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  server: { proxy: { "^/(health|models|predict|chat|invoke)": "http://127.0.0.1:8000" } },
  test: { environment: "node", include: ["src/**/*.test.{js,jsx}"] },
});
