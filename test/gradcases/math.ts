import type { GradCase } from '../gradcheck.js';

export const mathCases: GradCase[] = [];
