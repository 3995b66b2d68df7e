import { describe, expect, it } from 'vitest';
import {
  campaignFromPage,
  deviceFromUserAgent,
  entrySource,
  isBotUserAgent,
  pageHost,
  pagePath,
  referrerForStorage,
  utmParams,
} from './derive.js';

const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  chromeAndroidPhone:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  // Galaxy Tab S8: Android tablets leave "Mobile" out of the user agent.
  chromeAndroidTablet:
    'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  googlebotSmartphone:
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  curl: 'curl/8.5.0',
};

describe('pagePath', () => {
  it('keeps only the path of a full URL', () => {
    expect(pagePath('https://shop.example.com/pricing?utm_campaign=spring&x=1#plans')).toBe('/pricing');
    expect(pagePath('https://shop.example.com')).toBe('/');
    expect(pagePath('http://localhost:3000/docs/intro/')).toBe('/docs/intro/');
  });

  it('cuts the query string and fragment of a bare path', () => {
    expect(pagePath('/pricing?plan=pro')).toBe('/pricing');
    expect(pagePath('/docs#install')).toBe('/docs');
    expect(pagePath('/a/b?x=1#y')).toBe('/a/b');
    expect(pagePath('/')).toBe('/');
    expect(pagePath('?only=query')).toBe('/');
  });

  it('is null for nothing', () => {
    expect(pagePath(null)).toBeNull();
    expect(pagePath(undefined)).toBeNull();
    expect(pagePath('')).toBeNull();
  });
});

describe('pageHost', () => {
  it("takes the page URL's host, else the Origin header's", () => {
    expect(pageHost('https://app.example.com/x', 'https://other.example')).toBe('app.example.com');
    expect(pageHost('/x', 'https://app.example.com')).toBe('app.example.com');
    expect(pageHost('/x', 'http://localhost:5173')).toBe('localhost:5173');
    expect(pageHost('/x', null)).toBeNull();
    expect(pageHost(null, undefined)).toBeNull();
  });
});

describe('entrySource', () => {
  it('is direct without a referrer', () => {
    expect(entrySource(null, 'example.com')).toBe('direct');
    expect(entrySource('', 'example.com')).toBe('direct');
    expect(entrySource(undefined, null)).toBe('direct');
  });

  it("is internal when the referrer is the page's own host, ignoring www. and case", () => {
    expect(entrySource('https://example.com/blog', 'example.com')).toBe('internal');
    expect(entrySource('https://www.example.com/blog', 'example.com')).toBe('internal');
    expect(entrySource('https://example.com/', 'www.example.com')).toBe('internal');
    expect(entrySource('https://WWW.Example.COM/', 'example.com')).toBe('internal');
    expect(entrySource('http://localhost:3000/a', 'localhost:3000')).toBe('internal');
  });

  it('is external for any other host', () => {
    expect(entrySource('https://news.example/item?id=1', 'example.com')).toBe('external');
    expect(entrySource('https://blog.example.com/', 'example.com')).toBe('external');
    expect(entrySource('https://example.com.evil.test/', 'example.com')).toBe('external');
    expect(entrySource('http://localhost:4000/', 'localhost:3000')).toBe('external');
    expect(entrySource('https://www.google.com/', null)).toBe('external');
    expect(entrySource('android-app://com.google.android.gm/', 'example.com')).toBe('external');
  });

  it('counts an unparseable referrer as external', () => {
    expect(entrySource('not a url', 'example.com')).toBe('external');
  });
});

describe('referrerForStorage', () => {
  it('keeps origin and path, without query string or fragment', () => {
    expect(referrerForStorage('https://news.example/item?id=1&token=secret#c')).toBe('https://news.example/item');
    expect(referrerForStorage('https://www.google.com/')).toBe('https://www.google.com/');
    expect(referrerForStorage('https://news.example')).toBe('https://news.example/');
  });

  it('drops credentials in the URL', () => {
    expect(referrerForStorage('https://user:pass@intranet.example/page')).toBe('https://intranet.example/page');
  });

  it('drops the query string of a referrer it cannot parse as well', () => {
    expect(referrerForStorage('intranet.example/reset?token=secret')).toBe('intranet.example/reset');
    expect(referrerForStorage('x'.repeat(300))).toHaveLength(256);
    expect(referrerForStorage('?token=secret')).toBeNull();
  });

  it('is null without a referrer', () => {
    expect(referrerForStorage(null)).toBeNull();
    expect(referrerForStorage('')).toBeNull();
  });
});

describe('campaignFromPage and utmParams', () => {
  it('reads utm_campaign from a full URL or a path', () => {
    expect(campaignFromPage('https://example.com/pricing?utm_source=news&utm_campaign=spring')).toBe('spring');
    expect(campaignFromPage('/pricing?utm_campaign=black%20friday#top')).toBe('black friday');
    expect(campaignFromPage('/pricing?utm_campaign=spring#x?utm_campaign=other')).toBe('spring');
  });

  it('is null without a campaign', () => {
    expect(campaignFromPage('/pricing')).toBeNull();
    expect(campaignFromPage('/pricing?utm_source=news')).toBeNull();
    expect(campaignFromPage('/pricing?utm_campaign=')).toBeNull();
    expect(campaignFromPage(null)).toBeNull();
  });

  it('collects every non-empty utm_ parameter', () => {
    expect(utmParams('/p?utm_source=news&utm_medium=email&utm_term=&ref=x#utm_content=no')).toEqual({
      utm_source: 'news',
      utm_medium: 'email',
    });
    expect(utmParams('/p')).toEqual({});
    expect(utmParams(undefined)).toEqual({});
  });
});

describe('deviceFromUserAgent', () => {
  it('recognises desktop browsers', () => {
    expect(deviceFromUserAgent(UA.chromeWindows)).toEqual({ type: 'desktop', browser: 'Chrome', os: 'Windows' });
    expect(deviceFromUserAgent(UA.firefoxLinux)).toEqual({ type: 'desktop', browser: 'Firefox', os: 'Linux' });
    expect(deviceFromUserAgent(UA.safariMac)).toEqual({ type: 'desktop', browser: 'Safari', os: 'Mac OS' });
  });

  it('recognises phones and tablets', () => {
    expect(deviceFromUserAgent(UA.safariIphone)).toEqual({ type: 'mobile', browser: 'Mobile Safari', os: 'iOS' });
    expect(deviceFromUserAgent(UA.chromeAndroidPhone)).toEqual({ type: 'mobile', browser: 'Chrome', os: 'Android' });
    expect(deviceFromUserAgent(UA.chromeAndroidTablet)).toEqual({ type: 'tablet', browser: 'Chrome', os: 'Android' });
  });

  it('does not call an agent without a known OS a desktop', () => {
    expect(deviceFromUserAgent(UA.curl).type).toBeNull();
    expect(deviceFromUserAgent('')).toEqual({ type: null, browser: null, os: null });
    expect(deviceFromUserAgent(null)).toEqual({ type: null, browser: null, os: null });
  });
});

describe('isBotUserAgent', () => {
  it('recognises crawlers', () => {
    expect(isBotUserAgent(UA.googlebot)).toBe(true);
    expect(isBotUserAgent(UA.googlebotSmartphone)).toBe(true);
    expect(isBotUserAgent(UA.bingbot)).toBe(true);
  });

  it('does not count plainly named HTTP clients as bots: they are programs sending on purpose', () => {
    // isbot 5 lists curl, wget, node and python-requests; a script or backend that starts a web
    // session through them (the README's curl quick start) is tracked.
    for (const ua of [UA.curl, 'Wget/1.21.4', 'python-requests/2.31.0', 'node', 'undici', 'axios/1.6.0']) {
      expect(isBotUserAgent(ua), ua).toBe(false);
    }
  });

  it('still counts headless browsers, monitors and self-declared crawlers as bots', () => {
    for (const ua of [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
      'Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)',
      'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
      'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
      'Go-http-client/1.1',
    ]) {
      expect(isBotUserAgent(ua), ua).toBe(true);
    }
  });

  it('lets real browsers through', () => {
    for (const ua of [
      UA.chromeWindows,
      UA.firefoxLinux,
      UA.safariMac,
      UA.safariIphone,
      UA.chromeAndroidPhone,
      UA.chromeAndroidTablet,
    ]) {
      expect(isBotUserAgent(ua), ua).toBe(false);
    }
  });

  it('does not call an absent user agent a bot', () => {
    expect(isBotUserAgent(null)).toBe(false);
    expect(isBotUserAgent(undefined)).toBe(false);
    expect(isBotUserAgent('')).toBe(false);
  });
});
