// CPU kernels: ragged family. Registered on import by kernels/index.ts.
export {};
