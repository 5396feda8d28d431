const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sun, 06 Nov 1994 08:49:37 GMT` — the one form a sender must use (RFC 9110 §5.6.7). */
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

/**
 * Reads an IMF-fixdate strictly, or returns undefined. `Date.parse` is not used on the raw text:
 * it is lenient enough to read `garbage 2030` as the year 2030. The obsolete RFC 850 and asctime
 * forms are not read either; a Retry-After in them counts as absent (the caller backs off instead).
 */
export function parseHttpDate(value: string): Date | undefined {
  const match = IMF_FIXDATE.exec(value);
  if (!match) return undefined;
  const [day, month, year, hour, minute, second] = [Number(match[1]), MONTHS.indexOf(match[2]), Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])];
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(Date.UTC(year, month, day, hour, minute, Math.min(second, 59)));
  // Date.UTC rolls 31 Feb over into March: a day that does not exist is not a date.
  return date.getUTCDate() === day && date.getUTCMonth() === month ? date : undefined;
}
