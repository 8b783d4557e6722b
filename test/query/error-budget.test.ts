import { describe, expect, it } from 'vitest';
import { errorBudget } from '../../query/services/slo.js';

describe('errorBudget', () => {
  it('answers in decimal, without binary floating-point noise', () => {
    // (1 - 0.999) * 160 is 0.16000000000000014 in binary floating point.
    expect(errorBudget(160, 0, 0.999)).toEqual({ error_budget: 0.16, budget_consumed: 0, budget_remaining: 1, burn_rate: 0 });
    // Exactly the budget spent: burn rate 1 and nothing left, not 0.9999999999999991 and 8.9e-16.
    expect(errorBudget(1000, 1, 0.999)).toEqual({ error_budget: 1, budget_consumed: 1, budget_remaining: 0, burn_rate: 1 });
    expect(errorBudget(3000, 7, 0.99)).toEqual({
      error_budget: 30,
      budget_consumed: 0.233333333333,
      budget_remaining: 0.766666666667,
      burn_rate: 0.233333333333,
    });
    expect(errorBudget(10, 10, 0.9)).toEqual({ error_budget: 1, budget_consumed: 10, budget_remaining: -9, burn_rate: 10 });
  });

  it('has no budget and no rates without traffic', () => {
    expect(errorBudget(0, 0, 0.999)).toEqual({ error_budget: 0, budget_consumed: null, budget_remaining: null, burn_rate: null });
  });
});
