/** Whether elementwise fusion may generate a WGSL kernel for this node. */
export function gpuCanFuse(_n: { type: string; attrs: Readonly<Record<string, unknown>>; inputs: readonly ({ dtype: string } | null)[]; outputs: readonly { dtype: string }[] }): boolean {
  return false;
}
