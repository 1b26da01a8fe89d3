// WebGPU kernels: conv3d family. Registered on import by kernels/index.ts.
export {};
