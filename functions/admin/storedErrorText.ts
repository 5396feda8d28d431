import { maskAuthSchemes } from '../../shared/core/masking';
import type { Telemetry } from '../../shared/ports/telemetry';

/**
 * Stored error text (a run's or entity's `lastError`, a conflict's `reason`, a delivery's
 * `detail`, webhook health's `lastError`) as the admin API answers it: every secret value this
 * process holds (the telemetry's registered values) and any `Bearer`/`Basic` credential masked,
 * the rest as stored.
 *
 * New text is masked before it is stored (docs/oauth.md, "Where credentials live"), but text that
 * earlier releases stored was not, and the stores keep it as written. Masking again here, on the
 * way out, covers that text and anything a future writer forgets; it runs on these fields only.
 * null and undefined answer null, as the views show an absent error.
 */
export function maskStoredErrorText(text: string, telemetry: Telemetry): string;
export function maskStoredErrorText(text: string | null | undefined, telemetry: Telemetry): string | null;
export function maskStoredErrorText(text: string | null | undefined, telemetry: Telemetry): string | null {
  if (text === null || text === undefined) return null;
  return maskAuthSchemes(telemetry.maskSecretValues(text));
}
