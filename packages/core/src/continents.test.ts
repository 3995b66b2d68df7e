import { describe, expect, it } from 'vitest';
import { CONTINENT_CODES, continentOf, KNOWN_COUNTRY_CODES } from './continents.js';

describe('continentOf', () => {
  it('maps countries to their continent', () => {
    expect(continentOf('DE')).toBe('EU');
    expect(continentOf('US')).toBe('NA');
    expect(continentOf('BR')).toBe('SA');
    expect(continentOf('JP')).toBe('AS');
    expect(continentOf('AU')).toBe('OC');
    expect(continentOf('NG')).toBe('AF');
    expect(continentOf('AQ')).toBe('AN');
  });

  it('places transcontinental and overseas territories as GeoNames does', () => {
    expect(continentOf('RU')).toBe('EU');
    expect(continentOf('TR')).toBe('AS');
    expect(continentOf('EG')).toBe('AF');
    expect(continentOf('CY')).toBe('EU');
    expect(continentOf('PA')).toBe('NA');
    expect(continentOf('GF')).toBe('SA');
    expect(continentOf('RE')).toBe('AF');
    expect(continentOf('GL')).toBe('NA');
    expect(continentOf('XK')).toBe('EU');
  });

  it('is case-insensitive and ignores surrounding whitespace', () => {
    expect(continentOf('de')).toBe('EU');
    expect(continentOf(' Nz ')).toBe('OC');
  });

  it('gives null for codes that name no country', () => {
    for (const code of ['XX', 'T1', 'EU', 'AP', 'ZZ', 'UK', 'D', 'DEU', '', '  ']) expect(continentOf(code)).toBeNull();
    expect(continentOf(null)).toBeNull();
    expect(continentOf(undefined)).toBeNull();
  });

  it('knows all 249 ISO 3166-1 alpha-2 codes plus XK, each exactly once', () => {
    expect(KNOWN_COUNTRY_CODES).toHaveLength(250);
    expect(new Set(KNOWN_COUNTRY_CODES).size).toBe(250);
    for (const code of KNOWN_COUNTRY_CODES) {
      expect(code).toMatch(/^[A-Z]{2}$/);
      expect(CONTINENT_CODES).toContain(continentOf(code));
    }
  });

  it('covers every region name the runtime knows, except withdrawn and reserved codes', () => {
    // ICU names some codes that are not current ISO 3166-1 countries; those must stay unmapped.
    const notCountries = new Set(
      'AC AN BU CP CQ CS DD DG DY EA EU EZ FX HV IC NH QO RH SU TA TP UK UN VD XA XB YD YU ZR ZZ'.split(' '),
    );
    const names = new Intl.DisplayNames('en', { type: 'region', fallback: 'none' });
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    for (const a of letters) {
      for (const b of letters) {
        const code = a + b;
        if (!names.of(code) || notCountries.has(code)) continue;
        expect(continentOf(code), `${code} (${names.of(code)})`).not.toBeNull();
      }
    }
  });
});
