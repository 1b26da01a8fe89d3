/// <reference types="@webgpu/types" />
// Acquiring the GPU: navigator.gpu in browsers, Dawn's Node bindings (npm `webgpu`) in Node.
import { UnavailableError } from '../../src/core/errors.js';

export interface GpuDevice {
  readonly device: GPUDevice;
  readonly adapterName: string;
  /** Set once the device is lost: every later use fails with an UnavailableError carrying it. */
  lost: string | undefined;
}

let shared: Promise<GpuDevice> | undefined;

async function gpuEntryPoint(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new UnavailableError('WebGPU is not available in this browser (navigator.gpu is missing; it needs a secure context such as https or localhost)');
  // A variable specifier keeps bundlers from pulling the Node-only package into browser builds.
  // `webgpu` is an optional peer dependency of weir: only a session asking for this backend loads it.
  const pkg = 'webgpu';
  let mod: { create: (flags: string[]) => GPU };
  try {
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && /['"]webgpu['"]/.test(err.message ?? '');
    throw new UnavailableError(
      missing
        ? "The webgpu backend in Node needs the npm package 'webgpu' (Dawn's WebGPU bindings), an optional peer dependency of weir " +
            "that is not installed: run `npm install webgpu`, or use the default backend: 'cpu'."
        : `The webgpu backend in Node could not load the npm package 'webgpu' (Dawn's WebGPU bindings): ${err.message ?? String(e)}`,
    );
  }
  return mod.create([]);
}

/** Dawn tears its instance down when the GPU object is collected: it must stay referenced. */
let gpuInstance: GPU | undefined;

async function acquire(): Promise<GpuDevice> {
  const gpu = (gpuInstance ??= await gpuEntryPoint());
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new UnavailableError(
      'No WebGPU adapter found. In Node on a machine without a GPU, install a Vulkan driver (scripts/setup-webgpu.sh installs SwiftShader) and set VK_ICD_FILENAMES.',
    );
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const info = adapter.info as GPUAdapterInfo | undefined;
  const g: GpuDevice = { device, adapterName: [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter', lost: undefined };
  void device.lost.then((why) => {
    g.lost = `${why.reason}: ${why.message}`;
    if (shared && g === lastAcquired) shared = undefined;
  });
  lastAcquired = g;
  return g;
}
let lastAcquired: GpuDevice | undefined;

/** The process-wide device (created on first use, shared by every WebGPU session). */
export function getDevice(): Promise<GpuDevice> {
  if (!shared) {
    shared = acquire();
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}
