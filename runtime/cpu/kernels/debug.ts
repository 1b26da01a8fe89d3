// CPU kernels: debug family. Registered on import by kernels/index.ts.
export {};
