// User-agent strings of the tests, in a module of their own: the global setup (test-skips.ts)
// reads the service probes, which must not load the ward (its client-script import needs the
// client built, or the `source` condition the test projects have and a global setup lacks).

export const CHROME_120 =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
export const CHROME_121 =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36'
export const FIREFOX_120 =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0'
