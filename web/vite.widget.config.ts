import { defineConfig } from 'vite'

// Embeddable widget -> dist/widget.js (one self-contained IIFE, no framework).
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2018',
    lib: {
      entry: 'widget/widget.ts',
      name: 'KefuWidget',
      formats: ['iife'],
      fileName: () => 'widget.js',
    },
  },
})
