// CPU kernels: normalization family. Registered on import by kernels/index.ts.
export {};
