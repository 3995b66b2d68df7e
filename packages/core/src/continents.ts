// Continent of a country, so that a geo source which only knows the country (the bundled country
// database, Cloudflare's CF-IPCountry) still fills `geo.continent`. Continent codes and the
// assignment of transcontinental countries follow GeoNames, which MaxMind's databases also use
// (e.g. RU → EU, TR → AS, EG → AF, CY → EU, PA → NA). XK (Kosovo) is user-assigned in ISO 3166
// but used by GeoNames, MaxMind and the RIR data, so it is listed too.

export const CONTINENT_CODES = ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const;
export type ContinentCode = (typeof CONTINENT_CODES)[number];

// One line per continent reads (and reviews) better than 250 object entries.
const COUNTRIES_BY_CONTINENT: Record<ContinentCode, string> = {
  AF:
    'AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA ' +
    'NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW',
  AN: 'AQ BV GS HM TF',
  AS:
    'AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP ' +
    'OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE',
  EU:
    'AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME ' +
    'MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK',
  NA:
    'AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC ' +
    'TT US VC VG VI',
  OC: 'AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS',
  SA: 'AR BO BR CL CO EC FK GF GY PE PY SR UY VE',
};

const CONTINENT_BY_COUNTRY: ReadonlyMap<string, ContinentCode> = new Map(
  CONTINENT_CODES.flatMap((continent) =>
    COUNTRIES_BY_CONTINENT[continent].split(' ').map((country) => [country, continent] as const),
  ),
);

/** Every country code that `continentOf` knows (ISO 3166-1 alpha-2 plus XK). */
export const KNOWN_COUNTRY_CODES: readonly string[] = [...CONTINENT_BY_COUNTRY.keys()].sort();

/**
 * Continent code for an ISO 3166-1 alpha-2 country code, case-insensitive. Codes that name no
 * place ('XX' unknown, 'T1' Tor, 'EU'/'AP' regional blocks) and anything unknown give null.
 */
export function continentOf(countryCode: string | null | undefined): ContinentCode | null {
  if (!countryCode) return null;
  return CONTINENT_BY_COUNTRY.get(countryCode.trim().toUpperCase()) ?? null;
}
