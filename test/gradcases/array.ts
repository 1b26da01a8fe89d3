import type { GradCase } from '../gradcheck.js';

export const arrayCases: GradCase[] = [];
