import { describe, expect, it } from 'vitest';
import { histogramStep } from '../../query/logs/log-histogram.js';

describe('log histogram step', () => {
  it('is the smallest listed step giving at most the buckets asked for', () => {
    expect(histogramStep(0, 3_600_000, 120)).toBe(30_000);
    expect(histogramStep(0, 3_600_004, 120)).toBe(30_000);
    expect(histogramStep(0, 60_000, 120)).toBe(1_000);
    expect(histogramStep(0, 86_400_000, 120)).toBe(900_000);
    expect(histogramStep(0, 7 * 86_400_000, 120)).toBe(7_200_000);
    expect(histogramStep(0, 1000 * 86_400_000, 120)).toBe(9 * 86_400_000);
  });
});
