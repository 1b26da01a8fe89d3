// Injected into the browser bundle (examples/browser/build.ts) as the `process` global: no
// environment switches (weir itself reads `process` only where it exists; this keeps any code of
// the example that reads it working).
export const process = { env: {} as Record<string, string | undefined>, cwd: (): string => '/', platform: 'browser' };
