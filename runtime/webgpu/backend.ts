/// <reference types="@webgpu/types" />
// The WebGPU backend: records every kernel of a run into one command encoder and submits it once;
// plan buffers are created on a plan's first run and reused; variables stay on the GPU.
import type { DType } from '../../src/core/dtypes.js';
import {
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  OpError,
  ResourceExhaustedError,
  UnavailableError,
  UnimplementedError,
} from '../../src/core/errors.js';
import { NDArray } from '../../src/core/ndarray.js';
import type { Backend, KernelNode, RuntimeState, StepContext } from '../backend.js';
import { getDevice, type GpuDevice } from './device.js';
import { getGpuKernel, type GpuKernelDef, type KernelCtx } from './registry.js';
import { GpuTensor, gpuByteSize } from './tensor.js';
import { BITS_FN, MAX_BINDINGS, type Program } from './wgsl.js';
import { gpuCanFuse } from './kernels/fused.js';
import type { FusionCandidate } from '../elementwise_fusion.js';
import './kernels/index.js';
import { config } from '../../src/core/config.js';

const STORAGE = 0x80;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const MAP_MODE_READ = 0x01;
const COMPUTE = 0x04;

/**
 * Integer and bool ops (shape arithmetic, counters such as global_step) whose inputs are all on
 * the host and this small run there: no GPU round trip for values the host needs anyway.
 */
const HOST_ELEMENTS = 4096;

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  layouts: Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>;
}
const deviceCaches = new WeakMap<GPUDevice, DeviceCache>();

interface PlanBuffers {
  regions: (GPUBuffer | undefined)[];
  /** Per-step buffers: outputs the memory plan does not place, scratch space. */
  own: Map<string, GPUBuffer>;
}

/**
 * The WebGPU backend (`new tf.Session({backend: 'webgpu'})`). Ops without a GPU kernel, random
 * draws, strings and small integer ops on host values run on `host`, a backend over host NDArrays
 * (the session passes a CpuBackend), with this session's op state (random streams) and variables.
 */
export class WebGpuBackend implements Backend<GpuTensor> {
  readonly name = 'webgpu';
  readonly exclusiveRuns = true;
  readonly fuseInPlace = false;
  readonly maxFusedOperands = MAX_BINDINGS;
  private g: GpuDevice | undefined;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private inRun = false;
  private preferHostOps = true;
  /** Compiled pipelines and layouts are the device's, shared by every session on it. */
  private get pipelines(): Map<string, GPUComputePipeline> {
    return this.deviceCache().pipelines;
  }
  private get layouts(): Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }> {
    return this.deviceCache().layouts;
  }
  private deviceCache(): DeviceCache {
    const d = this.device;
    let c = deviceCaches.get(d);
    if (!c) deviceCaches.set(d, (c = { pipelines: new Map(), layouts: new Map() }));
    return c;
  }
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly planBuffers = new WeakMap<object, PlanBuffers>();
  private readonly consts = new WeakMap<KernelNode, GpuTensor>();
  private readonly constTensors = new WeakSet<GpuTensor>();
  /** Every buffer this backend made, destroyed on dispose. */
  private readonly allBuffers = new Set<GPUBuffer>();
  /** Buffers holding host-made values for one run, by byte size; free ones and those in use. */
  private readonly pool = new Map<number, GPUBuffer[]>();
  private runTransients: { t: GpuTensor; buffer: GPUBuffer }[] = [];
  private readonly staging = new Map<number, GPUBuffer[]>();
  private readonly staged = new Map<GpuTensor, GPUBuffer>();
  private uncaptured: string | undefined;
  /** Error flags kernels raise on the GPU this run (bad indices), read back with the fetches. */
  private checks: { t: GpuTensor; message: string; node: KernelNode }[] = [];
  private disposed = false;

  constructor(private readonly host: Backend<NDArray>) {}

  /**
   * What the WGSL generator can fuse, and only what the host can fuse too: small integer clusters
   * whose inputs are on the host run there (a host without fused kernels never gets them).
   */
  canFuse(n: FusionCandidate): boolean {
    if (!gpuCanFuse(n)) return false;
    return this.host.canFuse ? this.host.canFuse(n) : !this.host.hasKernel('_FusedElementwise');
  }
  /** Counters for tests and tuning: what this backend created and submitted so far. */
  readonly stats = { submissions: 0, buffers: 0, pipelines: 0, bindGroups: 0, readbacks: 0, hostOps: 0 };

  async ready(): Promise<void> {
    if (this.disposed) throw new FailedPreconditionError('This WebGPU backend was disposed');
    // A session's variables and buffers die with its device: after a loss it fails for good.
    if (this.g?.lost) throw new UnavailableError(`The WebGPU device was lost (${this.g.lost})`);
    if (!this.g) {
      this.g = await getDevice();
      this.g.device.addEventListener('uncapturederror', this.onError);
    }
  }

  private readonly onError = (ev: Event): void => {
    this.uncaptured ??= (ev as GPUUncapturedErrorEvent).error.message;
  };

  /** The adapter in use (after the first run). */
  get adapterName(): string | undefined {
    return this.g?.adapterName;
  }

  private get device(): GPUDevice {
    const g = this.g;
    if (!g) throw new FailedPreconditionError('The WebGPU device is not ready: run the session (Session.run awaits the device) before using the backend');
    if (g.lost) throw new UnavailableError(`The WebGPU device was lost (${g.lost})`);
    return g.device;
  }

  hasKernel(opType: string): boolean {
    if (getGpuKernel(opType)) return true;
    // Internal ops (fused kernels, views) exist only where a GPU kernel makes them worth it.
    return !opType.startsWith('_') && this.host.hasKernel(opType);
  }

  // ---------------------------------------------------------------------------------------------
  // Running ops

  execute(node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>, ctx?: StepContext): GpuTensor[] | Promise<GpuTensor[]> {
    this.beginRun();
    const def = getGpuKernel(node.type);
    // Strings have no GPU representation: ops on them run on the host, as TensorFlow places them.
    const strings = node.inputDTypes.includes('string') || node.outputs.some((o) => o.dtype === 'string');
    if (!def || strings || this.preferHost(node, inputs, state)) {
      const missing = this.hostMissing(node, inputs, state);
      if (missing.length) return this.readBack(missing).then(() => this.runOnHost(node, inputs, state));
      return this.runOnHost(node, inputs, state);
    }
    const missing = (def.hostInputs ?? []).map((i) => inputs[i < 0 ? inputs.length + i : i]).filter((t): t is GpuTensor => !!t && !t.host);
    if (missing.length) return this.readBack(missing).then(() => this.record(def, node, inputs, state, ctx));
    return this.record(def, node, inputs, state, ctx);
  }

  /** Small integer ops on values that are on the host anyway (shape arithmetic, counters) stay there. */
  private preferHost(node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>): boolean {
    if (!this.preferHostOps || !this.host.hasKernel(node.type) || node.type === 'VariableV2' || node.type === 'Const') return false;
    if (node.outputs.some((o) => o.dtype === 'float32')) return false;
    for (let i = 0; i < inputs.length; i++) {
      const t = node.refVars[i] !== undefined ? state.variables.get(node.refVars[i]!) : inputs[i];
      if (node.refVars[i] !== undefined && t === undefined) continue;
      if (!t || !t.host || t.size > HOST_ELEMENTS || t.dtype === 'float32') return false;
    }
    for (const o of node.outputs) {
      if (o.shape === null || o.shape.some((d) => d === null)) continue;
      if ((o.shape as number[]).reduce((a, b) => a * b, 1) > HOST_ELEMENTS) return false;
    }
    return true;
  }

  private hostMissing(node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>): GpuTensor[] {
    const out: GpuTensor[] = [];
    inputs.forEach((t, i) => {
      const v = node.refVars[i] !== undefined ? state.variables.get(node.refVars[i]!) : t;
      if (v && !v.host) out.push(v);
    });
    return out;
  }

  /** Runs the node on the host backend on host copies; variables it touches become host values. */
  private runOnHost(node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>): GpuTensor[] | Promise<GpuTensor[]> {
    if (!this.host.hasKernel(node.type)) throw new UnimplementedError(`No kernel registered for op type '${node.type}' on the webgpu backend`, node.name);
    this.stats.hostOps++;
    const hostVars = new Map<string, NDArray>();
    for (const name of node.refVars) {
      if (name === undefined) continue;
      const v = state.variables.get(name);
      if (v) hostVars.set(name, v.host!);
    }
    const adopt = (outs: NDArray[]): GpuTensor[] => {
      const byArray = new Map<NDArray, GpuTensor>();
      for (const [name, a] of hostVars) {
        const t = this.hostTensor(a);
        state.variables.set(name, t);
        byArray.set(a, t);
      }
      return outs.map((a) => byArray.get(a) ?? this.hostTensor(a));
    };
    const outs = this.hostExecute(node, inputs.map((t) => t?.host as NDArray), hostVars, state);
    return outs instanceof Promise ? outs.then(adopt) : adopt(outs);
  }

  /** The host backend's run of `node` on host values, with this session's op state (random streams) and entropy. */
  private hostExecute(node: KernelNode, inputs: NDArray[], variables: Map<string, NDArray>, state: RuntimeState<GpuTensor>): NDArray[] | Promise<NDArray[]> {
    return this.host.execute(node, inputs, { variables, opState: state.opState, entropy: state.entropy });
  }

  private hostTensor(a: NDArray): GpuTensor {
    return new GpuTensor(a.dtype, a.shape, undefined, a);
  }

  private record(def: GpuKernelDef, node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>, step: StepContext | undefined): GpuTensor[] | Promise<GpuTensor[]> {
    const kctx = this.kernelContext(node, inputs, state, step);
    return def.kernel(kctx, inputs);
  }

  private kernelContext(node: KernelNode, inputs: GpuTensor[], state: RuntimeState<GpuTensor>, step: StepContext | undefined): KernelCtx {
    const self = this;
    const stepBuffer = (key: string, bytes: number): GPUBuffer => {
      if (!step) return this.createBuffer(bytes, node);
      const pb = this.plan(step.plan);
      const k = `${step.step}:${key}`;
      let b = pb.own.get(k);
      if (!b || b.size < bytes) {
        b = this.createBuffer(bytes, node);
        pb.own.set(k, b);
      }
      return b;
    };
    const kctx: KernelCtx = {
      node,
      state,
      output(k: number, dtype: DType, shape: readonly number[]): GpuTensor {
        const bytes = gpuByteSize(dtype, shape.reduce((a, b) => a * b, 1));
        const r = step?.regions[k];
        let buffer: GPUBuffer;
        if (step && r !== undefined && bytes <= Math.max(16, Math.ceil(step.regionBytes[r]! / 4) * 4)) {
          const pb = self.plan(step.plan);
          buffer = pb.regions[r] ??= self.createBuffer(Math.max(16, Math.ceil(step.regionBytes[r]! / 4) * 4), node);
        } else {
          buffer = stepBuffer(`out${k}`, bytes);
        }
        return new GpuTensor(dtype, [...shape], buffer);
      },
      scratch(dtype: DType, shape: readonly number[], tag = ''): GpuTensor {
        return new GpuTensor(dtype, [...shape], stepBuffer(`scratch${tag}`, gpuByteSize(dtype, shape.reduce((a, b) => a * b, 1))));
      },
      dispatch: (p: Program, ins: readonly GpuTensor[], outs: readonly GpuTensor[]) => this.dispatch(p, ins, outs, node),
      copy: (src: GpuTensor, dst: GpuTensor) => this.copy(src, dst),
      view(t: GpuTensor, shape: readonly number[]): GpuTensor {
        return new GpuTensor(t.dtype, [...shape], t.buffer, t.host && new NDArray(t.host.data, [...shape], t.host.dtype));
      },
      fromHost: (a: NDArray) => this.hostTensor(a),
      runOnHost: (): GpuTensor[] | Promise<GpuTensor[]> => {
        const outs = this.hostExecute(node, inputs.map((_, i) => kctx.host(i)), new Map(), state);
        const adopt = (a: NDArray[]): GpuTensor[] => a.map((x) => this.hostTensor(x));
        return outs instanceof Promise ? outs.then(adopt) : adopt(outs);
      },
      host(i: number): NDArray {
        const h = inputs[i]?.host;
        if (!h) throw new InternalError(`${node.type} kernel read input ${i} on the host without declaring it in hostInputs`, node.name);
        return h;
      },
      ref(i: number): GpuTensor {
        const name = node.refVars[i]!;
        const v = state.variables.get(name);
        if (!v) throw new FailedPreconditionError(`Attempting to use uninitialized value ${name}`, node.name);
        // Written in place: a variable last set on the host gets a buffer of its own, not a per-run one.
        self.ensureGpu(v, true);
        return v;
      },
      setVariable(name: string, t: GpuTensor): void {
        state.variables.set(name, t);
      },
      constant: () => this.constTensor(node),
      check: (message: string): GpuTensor => {
        const t = new GpuTensor('int32', [1], stepBuffer(`check${this.checks.length}`, 16));
        this.device.queue.writeBuffer(t.buffer!, 0, new Int32Array(1));
        this.checks.push({ t, message, node });
        return t;
      },
      owned(dtype: DType, shape: readonly number[]): GpuTensor {
        return new GpuTensor(dtype, [...shape], self.createBuffer(gpuByteSize(dtype, shape.reduce((a, b) => a * b, 1)), node));
      },
    };
    return kctx;
  }

  private plan(key: object): PlanBuffers {
    let pb = this.planBuffers.get(key);
    if (!pb) this.planBuffers.set(key, (pb = { regions: [], own: new Map() }));
    return pb;
  }

  /** The tensor a Const node yields: made once, uploaded on first use, reused by every run. */
  private constTensor(node: KernelNode): GpuTensor {
    let t = this.consts.get(node);
    if (!t) {
      t = this.hostTensor(node.attrs.value as NDArray);
      this.consts.set(node, t);
      this.constTensors.add(t);
    }
    return t;
  }

  // ---------------------------------------------------------------------------------------------
  // Buffers and commands

  private createBuffer(bytes: number, node?: KernelNode): GPUBuffer {
    const device = this.device;
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    const limit = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    if (size > limit) {
      throw new ResourceExhaustedError(
        `OOM when allocating a WebGPU buffer of ${size} bytes${node ? ` for ${node.type} '${node.name}'` : ''}: the device allows at most ${limit} bytes per buffer`,
        node?.name,
      );
    }
    const b = device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST });
    this.stats.buffers++;
    this.allBuffers.add(b);
    return b;
  }

  /** Gives a host-made value its GPU copy (in a buffer of its own when `owned`, else a per-run one). */
  ensureGpu(t: GpuTensor, owned = false): GPUBuffer {
    if (t.buffer) return t.buffer;
    const h = t.host;
    if (!h) throw new InternalError('a WebGPU tensor has neither a GPU nor a host copy');
    if (h.dtype === 'string') throw new UnimplementedError('string tensors cannot be used by WebGPU kernels');
    const bytes = gpuByteSize(t.dtype, t.size);
    let buffer: GPUBuffer;
    if (owned || this.constTensors.has(t)) buffer = this.createBuffer(bytes);
    else {
      const free = this.pool.get(bytes);
      buffer = free?.pop() ?? this.createBuffer(bytes);
      this.runTransients.push({ t, buffer });
    }
    let data = hostBytes(h);
    // Host values the CPU backend computed may live in its shared WebAssembly memory, which not
    // every WebGPU implementation's writeBuffer takes (Dawn's Node binding refuses it): copy those.
    if (!(data.buffer instanceof ArrayBuffer)) data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    if (data.byteLength > 0) this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    t.buffer = buffer;
    return buffer;
  }

  private beginRun(): void {
    if (this.inRun) return;
    const device = this.device;
    this.inRun = true;
    // WEIR_WEBGPU_PREFER_HOST=0 sends those ops to their GPU kernels too (the conformance suite does).
    this.preferHostOps = config.webgpuPreferHost();
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private submit(): void {
    this.endPass();
    if (!this.encoder) return;
    const cb = this.encoder.finish();
    this.encoder = undefined;
    this.device.queue.submit([cb]);
    this.stats.submissions++;
  }

  private idOf(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextId++));
    return id;
  }

  private layout(nIn: number, nOut: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = `${nIn},${nOut}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < nIn + nOut; i++) entries.push({ binding: i, visibility: COMPUTE, buffer: { type: i < nIn ? 'read-only-storage' : 'storage' } });
      const group = this.device.createBindGroupLayout({ entries });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.layouts.set(key, l);
    }
    return l;
  }

  private pipeline(p: Program, nIn: number, nOut: number): GPUComputePipeline {
    const key = `${nIn},${nOut}\n${p.code}`;
    let pipe = this.pipelines.get(key);
    if (!pipe) {
      const device = this.device;
      const code = p.code.includes('w_bits(') && !p.code.includes('fn w_bits(') ? `${BITS_FN}\n${p.code}` : p.code;
      const module = device.createShaderModule({ code, label: p.label });
      pipe = device.createComputePipeline({ layout: this.layout(nIn, nOut).pipeline, compute: { module, entryPoint: 'main' }, label: p.label });
      this.pipelines.set(key, pipe);
      this.stats.pipelines++;
    }
    return pipe;
  }

  private dispatch(p: Program, inputs: readonly GpuTensor[], outputs: readonly GpuTensor[], node: KernelNode): void {
    const limit = this.device.limits.maxStorageBuffersPerShaderStage;
    if (inputs.length + outputs.length > limit) {
      throw new InternalError(`${node.type} kernel binds ${inputs.length + outputs.length} buffers; this device allows ${limit}`, node.name);
    }
    const outBuffers = new Set(outputs.map((o) => o.buffer));
    const ins = inputs.map((t) => {
      const b = this.ensureGpu(t);
      if (!outBuffers.has(b)) return b;
      // A buffer cannot be bound for reading and writing in one dispatch: read a copy.
      const c = this.createBuffer(b.size);
      this.runTransients.push({ t: new GpuTensor(t.dtype, t.shape, c), buffer: c });
      this.endPass();
      this.commandEncoder().copyBufferToBuffer(b, 0, c, 0, b.size);
      return c;
    });
    for (const o of outputs) {
      if (!o.buffer) throw new InternalError(`${node.type} kernel wrote to a tensor without a GPU buffer`, node.name);
      o.host = undefined;
    }
    const [x, y, z] = p.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new InternalError(`${node.type} kernel dispatches ${x}x${y}x${z} workgroups; the limit is ${maxGroups} per dimension`, node.name);
    }
    const pipe = this.pipeline({ ...p, label: p.label ?? `${node.type} ${node.name}` }, inputs.length, outputs.length);
    const buffers = [...ins, ...outputs.map((o) => o.buffer!)];
    // A bind group depends on the layout (binding counts) and the buffers, not on the pipeline.
    const key = `${inputs.length},${outputs.length}:${buffers.map((b) => this.idOf(b)).join(',')}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      bg = this.device.createBindGroup({
        layout: this.layout(inputs.length, outputs.length).group,
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      this.stats.bindGroups++;
      if (this.bindGroups.size > 8192) this.bindGroups.clear();
      this.bindGroups.set(key, bg);
    }
    const pass = this.computePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(x, y, z);
  }

  private copy(src: GpuTensor, dst: GpuTensor): void {
    const s = this.ensureGpu(src);
    if (!dst.buffer) throw new InternalError('copy into a tensor without a GPU buffer');
    dst.host = undefined;
    const bytes = Math.min(gpuByteSize(src.dtype, src.size), s.size, dst.buffer.size);
    if (src.size === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(s, 0, dst.buffer, 0, bytes);
  }

  private stagingBuffer(bytes: number): GPUBuffer {
    const free = this.staging.get(bytes);
    const b = free?.pop();
    if (b) return b;
    const s = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    this.allBuffers.add(s);
    return s;
  }

  private releaseStaging(b: GPUBuffer): void {
    let free = this.staging.get(b.size);
    if (!free) this.staging.set(b.size, (free = []));
    free.push(b);
  }

  /** Records copies of GPU-only values into mappable buffers (nothing submitted). */
  private stage(ts: readonly GpuTensor[]): void {
    for (const t of ts) {
      if (t.host || this.staged.has(t) || !t.buffer) continue;
      const bytes = gpuByteSize(t.dtype, t.size);
      const s = this.stagingBuffer(bytes);
      this.endPass();
      this.commandEncoder().copyBufferToBuffer(t.buffer, 0, s, 0, bytes);
      this.staged.set(t, s);
    }
  }

  /** Maps a staged copy and turns it into the tensor's host value. */
  private async readStaged(t: GpuTensor): Promise<NDArray> {
    const s = this.staged.get(t)!;
    this.staged.delete(t);
    try {
      await this.guard(s.mapAsync(MAP_MODE_READ));
      const a = fromBytes(t.dtype, t.shape, s.getMappedRange().slice(0));
      s.unmap();
      return a;
    } finally {
      this.releaseStaging(s);
    }
  }

  /** Reads GPU values back mid-run (for an op that runs on the host): submits what is recorded. */
  private async readBack(ts: readonly GpuTensor[]): Promise<void> {
    this.stats.readbacks++;
    this.stage(ts);
    this.submit();
    await Promise.all(
      ts.map(async (t) => {
        if (t.host) return;
        t.host = await this.readStaged(t);
      }),
    );
  }

  /** Rejects with an UnavailableError when the device is lost while waiting. */
  private async guard<T>(p: Promise<T>): Promise<T> {
    const g = this.g!;
    try {
      return await Promise.race([p, g.device.lost.then((why) => Promise.reject(new UnavailableError(`The WebGPU device was lost (${why.reason}: ${why.message})`)))]);
    } catch (e) {
      if (e instanceof OpError) throw e;
      if (g.lost) throw new UnavailableError(`The WebGPU device was lost (${g.lost})`);
      throw new InternalError(`WebGPU: ${(e as Error).message}`);
    }
  }

  async endRun(fetched: readonly GpuTensor[] = []): Promise<void> {
    if (!this.inRun) return;
    const checks = this.checks;
    this.checks = [];
    this.stage([...fetched.filter((t) => t && !t.host), ...checks.map((c) => c.t)]);
    this.submit();
    this.inRun = false;
    this.recycle();
    const device = this.device;
    const flags = await Promise.all(checks.map((c) => this.readStaged(c.t)));
    const failed = checks.find((_, i) => (flags[i]!.data as Int32Array)[0] !== 0);
    if (failed) {
      for (const t of fetched) {
        const s = this.staged.get(t);
        if (s) this.releaseStaging(s);
        this.staged.delete(t);
      }
      void device.popErrorScope().catch(() => undefined);
      void device.popErrorScope().catch(() => undefined);
      throw new InvalidArgumentError(`${failed.message} (${failed.node.type} '${failed.node.name}')`, failed.node.name);
    }
    const validation = await this.guard(device.popErrorScope());
    const oom = await this.guard(device.popErrorScope());
    const uncaptured = this.uncaptured;
    this.uncaptured = undefined;
    if (oom) throw new ResourceExhaustedError(`OOM on the WebGPU device: ${oom.message}`);
    if (validation) throw new InternalError(`WebGPU rejected a command of this run: ${validation.message}`);
    if (uncaptured) throw new InternalError(`WebGPU error: ${uncaptured}`);
  }

  /** Drops what a failed run recorded: nothing of it reaches the GPU. */
  abortRun(): void {
    if (!this.inRun) return;
    this.pass?.end();
    this.pass = undefined;
    this.encoder = undefined;
    this.inRun = false;
    this.checks = [];
    for (const [, s] of this.staged) this.releaseStaging(s);
    this.staged.clear();
    this.recycle();
    if (this.g && !this.g.lost) {
      void this.g.device.popErrorScope().catch(() => undefined);
      void this.g.device.popErrorScope().catch(() => undefined);
    }
  }

  /** Host-made values give their pooled buffers back; they keep their host copies. */
  private recycle(): void {
    for (const { t, buffer } of this.runTransients) {
      if (t.buffer === buffer) t.buffer = undefined;
      let free = this.pool.get(buffer.size);
      if (!free) this.pool.set(buffer.size, (free = []));
      free.push(buffer);
    }
    this.runTransients = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Backend interface

  upload(value: NDArray): GpuTensor {
    return this.hostTensor(value);
  }

  async download(t: GpuTensor): Promise<NDArray> {
    if (t.host) return t.host.clone();
    if (!this.staged.has(t)) {
      this.stage([t]);
      this.submit();
    }
    return this.readStaged(t);
  }

  shapeOf(t: GpuTensor): number[] {
    return t.shape;
  }

  dtypeOf(t: GpuTensor): DType {
    return t.dtype;
  }

  dispose(): void {
    this.disposed = true;
    this.g?.device.removeEventListener('uncapturederror', this.onError);
    for (const b of this.allBuffers) b.destroy();
    this.allBuffers.clear();
    this.bindGroups.clear();
    this.pool.clear();
    this.staging.clear();
  }
}

/** The bytes a GPU buffer holds for a host value. */
function hostBytes(a: NDArray): ArrayBufferView {
  if (a.dtype === 'bool') return Uint32Array.from(a.data as Uint8Array);
  return a.data as ArrayBufferView;
}

function fromBytes(dtype: DType, shape: number[], bytes: ArrayBuffer): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'float32':
      return new NDArray(new Float32Array(bytes, 0, n), shape);
    case 'complex64':
      return new NDArray(new Float32Array(bytes, 0, 2 * n), shape, 'complex64');
    case 'int32':
      return new NDArray(new Int32Array(bytes, 0, n), shape, 'int32');
    case 'int64':
      return new NDArray(new BigInt64Array(bytes, 0, n), shape, 'int64');
    case 'bool':
      return new NDArray(Uint8Array.from(new Uint32Array(bytes, 0, n)), shape, 'bool');
    default:
      throw new InvalidArgumentError(`cannot read a ${dtype} tensor back from the GPU`);
  }
}
