import type { GradCase } from '../gradcheck.js';

export const imageCases: GradCase[] = [];
