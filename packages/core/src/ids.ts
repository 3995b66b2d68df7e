// Identifiers from the platform CSPRNG (Web Crypto), never Math.random.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` base62 characters: 22 of them carry ~131 bits. Rejection sampling keeps it unbiased. */
export function randomToken(length = 22): string {
  let out = '';
  const buf = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const newSessionId = (): string => `s_${randomToken(24)}`;
export const newEventId = (): string => `srv_${randomToken(20)}`;
export const newWriteKey = (): string => `wk_${randomToken(24)}`;
export const newAdminToken = (): string => `st_${randomToken(40)}`;
export const newProjectId = (): string => `p_${randomToken(12)}`;
export const newShareId = (): string => `sh_${randomToken(12)}`;
export const newShareToken = (): string => `sts_${randomToken(32)}`;
