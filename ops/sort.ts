// sort op definitions (issue 18). Registered on import by ops/index.ts.
export {};
