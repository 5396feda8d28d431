/** Waits `ms`: the poll interval while another holder's lease is taken, and the backoff between writes. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
