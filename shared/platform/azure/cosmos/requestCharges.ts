/**
 * Adds up the request units the Cosmos SDK reports (`requestCharge` of each response), by
 * operation name, so that docs/cosmos.md and the benchmark report measured figures.
 */
export class RequestCharges {
  private readonly totals = new Map<string, { requests: number; ru: number }>();

  add(operation: string, requestCharge: number | undefined, requests = 1): void {
    const entry = this.totals.get(operation) ?? { requests: 0, ru: 0 };
    entry.requests += requests;
    entry.ru += requestCharge ?? 0;
    this.totals.set(operation, entry);
  }

  snapshot(): Record<string, { requests: number; ru: number }> {
    return Object.fromEntries([...this.totals].map(([name, v]) => [name, { ...v }]));
  }

  total(): { requests: number; ru: number } {
    let requests = 0;
    let ru = 0;
    for (const v of this.totals.values()) {
      requests += v.requests;
      ru += v.ru;
    }
    return { requests, ru };
  }

  reset(): void {
    this.totals.clear();
  }
}
