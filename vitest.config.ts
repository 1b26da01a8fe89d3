import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Without a GPU, Dawn (the npm package `webgpu`) runs WebGPU on SwiftShader's Vulkan driver, which
// Debian's chromium package installs (scripts/setup-webgpu.sh).
// Set here, in the main process: the test workers are threads, which share its native environment
// (the Vulkan loader reads that, not a worker's process.env).
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    setupFiles: ['test/setup/outside_reads.ts'],
    // Every Session.run also runs the unoptimized plan and checks that both agree (src/session.ts);
    // on the webgpu backend it runs the CPU backend and checks that both agree.
    env: { WEIR_VERIFY_OPT: '1' },
  },
});
