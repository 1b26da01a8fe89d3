// CPU kernels: strings family. Registered on import by kernels/index.ts.
export {};
