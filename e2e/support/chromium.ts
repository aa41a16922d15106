import { spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

/** Debian's Chromium unless CHROMIUM_PATH names another. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/**
 * Why the e2e scenarios are skipped (no executable at CHROMIUM_PATH), or null when they run.
 * Under CI a reason fails the run (test-skips.ts).
 */
export const chromiumSkipReason = isExecutable(CHROMIUM_PATH)
  ? null
  : `no Chromium at ${CHROMIUM_PATH} (install chromium or set CHROMIUM_PATH)`

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** Flags for Chromium as root on a machine without a network: no sandbox, no background calls. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/** One headless Chromium for the whole suite; Playwright gives each launch its own profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS })
}

/** A Chromium whose default context can freeze its pages (see `launchFreezableChromium`). */
export interface FreezableChromium {
  browser: Browser
  /** The default context: its pages have no focus emulation, so they can be frozen. */
  context: BrowserContext
  close(): Promise<void>
}

/**
 * A second Chromium for the frozen-tab scenario. Playwright turns focus emulation on for every
 * page it creates, and Chromium implements that as a capture handle that keeps the page
 * "visible"; `Page.setWebLifecycleState` then hides and freezes nothing. Pages of the default
 * context of a browser attached with `connectOverCDP(..., { noDefaults: true })` do not get it,
 * so this browser is started by hand (own profile, a free DevTools port) and attached that way.
 */
export async function launchFreezableChromium(): Promise<FreezableChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'sessionward-e2e-'))
  const child = spawn(
    CHROMIUM_PATH,
    [...CHROMIUM_ARGS, '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(
        () => reject(new Error(`Chromium did not start:\n${output}`)),
        30_000,
      )
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(output)
        if (match?.[1]) {
          clearTimeout(timer)
          resolve(match[1])
        }
      })
      child.once('exit', (code) => reject(new Error(`Chromium exited (${code}):\n${output}`)))
    })
    const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true })
    const context = browser.contexts()[0]
    if (!context) throw new Error('Chromium has no default context')
    await context.addInitScript(INIT_SCRIPT)
    context.on('page', (page) => watch(page))
    return {
      browser,
      context,
      close: async () => {
        await browser.close().catch(() => {})
        child.kill()
        await exited
        removeProfile(profile)
      },
    }
  } catch (error) {
    child.kill()
    removeProfile(profile)
    throw error
  }
}

// Chromium's helper processes (crashpad, zygote) outlive the browser's by a moment and may still
// write into its profile: a removal that meets a file written meanwhile (ENOTEMPTY) tries again.
function removeProfile(profile: string): void {
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
}

/** What a page told its console that the scenarios care about. */
export interface PageLog {
  page: Page
  /** A deliberate violation (the detector's own check): left out of the suite-wide check. */
  control: boolean
  /** `sessionward:*` events seen, in order, e.g. `warn`, `active`, `expire:idle`. */
  events: string[]
  /** Console messages about Content-Security-Policy violations. */
  cspViolations: string[]
  /** Every console error, for diagnosis. */
  errors: string[]
}

// Runs before any page script, outside the page's CSP (Playwright injects it through CDP).
// It reports the SDK's DOM events and CSP violations on the console, where the harness listens:
// unlike a page variable, a console message survives the navigation that follows an expiry.
const INIT_SCRIPT = `(() => {
  for (const name of ['warn', 'active', 'expire']) {
    addEventListener('sessionward:' + name, (event) => {
      const reason = name === 'expire' ? ':' + event.detail.reason : ''
      console.debug('[e2e] ' + name + reason)
    })
  }
  addEventListener('securitypolicyviolation', (event) => {
    console.error('[e2e] Content Security Policy violation: ' + event.violatedDirective + ' ' + event.blockedURI)
  })
})()`

const CSP = /content security policy/i

/** Every page the suite opened, with what it logged. */
export const pageLogs: PageLog[] = []

/**
 * A fresh browser context (a separate "device": its own cookies and tabs) whose pages report
 * SDK events and CSP violations into `pageLogs`.
 */
export async function newDevice(browser: Browser, name: string): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 760 },
    // Lets the server-side counters tell which "device" sent a request.
    extraHTTPHeaders: { 'x-e2e-device': name },
  })
  await context.addInitScript(INIT_SCRIPT)
  context.on('page', (page) => watch(page))
  return context
}

function watch(page: Page): PageLog {
  const log: PageLog = { page, control: false, events: [], cspViolations: [], errors: [] }
  pageLogs.push(log)
  page.on('console', (message) => {
    const text = message.text()
    if (text.startsWith('[e2e] ') && message.type() === 'debug') log.events.push(text.slice(6))
    if (CSP.test(text)) log.cspViolations.push(text)
    if (message.type() === 'error') log.errors.push(text)
  })
  return log
}

/** The log of a page opened through `newDevice`. */
export function logOf(page: Page): PageLog {
  const log = pageLogs.find((entry) => entry.page === page)
  if (!log) throw new Error('page was not opened through newDevice()')
  return log
}
