// WebGPU kernels: image family. Registered on import by kernels/index.ts.
export {};
