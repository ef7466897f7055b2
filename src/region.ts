/**
 * Where a subscriber is, as one of the nine Durable Object location hints: the relay that
 * serves it is placed there (relay.ts). Pure: it reads only what `request.cf` says.
 *
 * `request.cf.continent` names seven continents; the hints split two of them and add the
 * Middle East, so longitude and country refine it:
 * - NA: west of 100° W → `wnam`, else `enam` (Central America and the Caribbean: `enam`);
 * - EU: east of 20° E → `eeur` (Finland, the Baltics, Poland's east, the Balkans eastwards,
 *   Ukraine, Russia's European part), else `weur`;
 * - AS: the countries of {@link MIDDLE_EAST} → `me`, else `apac`;
 * - AF → `afr` (Egypt included: Cloudflare places it in Africa); SA → `sam`; OC → `oc`;
 * - AN (Antarctica), T1 (Tor), anything unknown, or no `cf` at all (local development,
 *   tests) → {@link DEFAULT_REGION}.
 */

export const REGIONS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'] as const;
export type Region = (typeof REGIONS)[number];

/** Where a subscriber goes when `cf` does not say: the hint with the most Internet users near it. */
export const DEFAULT_REGION: Region = 'enam';

/** ISO 3166 codes of the Middle East as Cloudflare's `me` hint covers it. */
const MIDDLE_EAST = new Set(['AE', 'BH', 'CY', 'IL', 'IQ', 'IR', 'JO', 'KW', 'LB', 'OM', 'PS', 'QA', 'SA', 'SY', 'TR', 'YE']);

/** What this reads of `request.cf`; every field may be missing. */
export interface Whereabouts {
  continent?: unknown;
  country?: unknown;
  longitude?: unknown;
}

export function regionOf(cf: Whereabouts | undefined): Region {
  const longitude = typeof cf?.longitude === 'string' || typeof cf?.longitude === 'number' ? Number(cf.longitude) : NaN;
  switch (cf?.continent) {
    case 'NA':
      return longitude < -100 ? 'wnam' : 'enam';
    case 'SA':
      return 'sam';
    case 'EU':
      return longitude > 20 ? 'eeur' : 'weur';
    case 'AS':
      return typeof cf.country === 'string' && MIDDLE_EAST.has(cf.country) ? 'me' : 'apac';
    case 'OC':
      return 'oc';
    case 'AF':
      return 'afr';
    default:
      return DEFAULT_REGION;
  }
}

export const isRegion = (value: string): value is Region => (REGIONS as readonly string[]).includes(value);
