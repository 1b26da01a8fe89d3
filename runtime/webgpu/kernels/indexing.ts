// WebGPU kernels: indexing family. Registered on import by kernels/index.ts.
export {};
