// Command-line handling the MNIST examples share.
import type { EpochStats } from './training.js';

/** The options every classifier example takes, for node:util parseArgs. */
export const CLASSIFIER_OPTIONS = {
  epochs: { type: 'string' },
  train: { type: 'string' },
  test: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  'min-accuracy': { type: 'string' },
} as const;

export type NumberKind = 'positive integer' | 'non-negative integer' | 'non-negative number';

function isKind(n: number, kind: NumberKind): boolean {
  switch (kind) {
    case 'positive integer':
      return Number.isInteger(n) && n > 0;
    case 'non-negative integer':
      return Number.isInteger(n) && n >= 0;
    case 'non-negative number':
      return Number.isFinite(n) && n >= 0;
  }
}

/** The number an option gives, `fallback` when it is absent; anything but a `kind` is an error. */
export function numberOption(value: string | undefined, fallback: number, what: string, kind: NumberKind): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!isKind(n, kind)) throw new Error(`--${what} must be a ${kind}, got '${value}'`);
  return n;
}

/**
 * The test accuracy a run must reach: `--min-accuracy` when given, else `fullRunTarget` for a
 * full-length run, and 0 (only report) for a `shortened` smoke run.
 */
export function minAccuracyOption(value: string | undefined, shortened: boolean, fullRunTarget: number): number {
  if (value !== undefined) return Number(value);
  return shortened ? 0 : fullRunTarget;
}

export function logEpoch(s: EpochStats): void {
  console.log(`epoch ${s.epoch}: loss ${s.loss.toFixed(4)}, train accuracy ${s.trainAccuracy.toFixed(4)}, ${s.seconds.toFixed(1)} s`);
}

/** Makes the process exit non-zero when `testAccuracy` is below `minAccuracy`. */
export function failIfBelow(testAccuracy: number, minAccuracy: number): void {
  if (testAccuracy < minAccuracy) {
    console.error(`test accuracy is below ${minAccuracy}`);
    process.exitCode = 1;
  }
}
