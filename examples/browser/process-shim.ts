// Injected into the browser bundle (examples/browser/build.ts) as the `process` global weir reads:
// no environment switches, and '/' as the directory creation-site file names are relative to.
export const process = { env: {} as Record<string, string | undefined>, cwd: (): string => '/', platform: 'browser' };
