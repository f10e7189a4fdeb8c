import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const backend = process.env.KEFU_URL || 'http://127.0.0.1:18080'

// Agent console SPA -> dist/index.html + dist/assets/*. public/ (demo shop page) is copied as is.
export default defineConfig({
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      '/api': { target: backend, ws: true, changeOrigin: true },
      '/widget.js': { target: backend },
    },
  },
})
