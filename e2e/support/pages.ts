import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BrowserContext, Page } from 'playwright-core'

/** The states the SDK reports (`[data-ward="state"]` on every signed-in page). */
export type WardState = 'active' | 'warning' | 'expired' | 'stopped'

/** Generous waits: the machine is small and shared; assert outcomes, never durations. */
export const LONG = 30_000

/** Polls `read` until `accept` holds or `timeout` passes; returns the last value. */
export async function until<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeout = LONG,
): Promise<T> {
  const end = Date.now() + timeout
  let value = await read()
  while (!accept(value) && Date.now() < end) {
    await sleep(200)
    value = await read()
  }
  return value
}

/** Signs in through the /login form, as a person would, and waits for the SDK to start. */
export async function signIn(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(`${baseUrl}/login`)
  await page.fill('#username', username)
  await page.fill('#password', username)
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click('button[type="submit"]')])
  await waitForState(page, 'active')
}

/** Opens one more tab of the same browser on `path` and waits for the SDK to start there. */
export async function openTab(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(url)
  await waitForState(page, 'active')
  return page
}

/** Waits until the page shows this SDK state (the header of every signed-in page has it). */
export async function waitForState(page: Page, state: WardState, timeout = LONG): Promise<void> {
  await page.waitForSelector(`[data-ward="state"][data-state="${state}"]`, {
    state: 'attached',
    timeout,
  })
}

/** The session id a page is signed in with (asks the demo's `/api/me`). */
export async function sessionIdOf(page: Page): Promise<string> {
  const me = await page.evaluate(async () => (await fetch('/api/me')).json())
  return me.session.id
}

/** The SDK's state as the page shows it. */
export function stateOf(page: Page): Promise<string | null> {
  return page.getAttribute('[data-ward="state"]', 'data-state')
}

/** Waits until the page has landed on the login page, and returns why it says it is there. */
export async function waitForLogin(page: Page, timeout = LONG): Promise<string | null> {
  await page.waitForURL((url) => url.pathname === '/login', { timeout })
  await page.waitForLoadState('load')
  return page.getAttribute('[data-testid="login-reason"]', 'data-reason')
}

/** The session token this browser holds (the HttpOnly cookie), or null. */
export async function tokenOf(context: BrowserContext): Promise<string | null> {
  const cookie = (await context.cookies()).find((c) => c.name === '__Host-sessionward')
  return cookie?.value ?? null
}

/**
 * Whether the warning dialog is open on this page. Its hooks are in the open shadow root of
 * `<sessionward-dialog>`: Playwright's CSS selectors pierce it (`page.click('[data-sessionward=
 * "stay"]')`), while code in the page goes through `host.shadowRoot`, as here.
 */
export function dialogOpen(page: Page): Promise<boolean> {
  return page.evaluate(
    () =>
      document
        .querySelector('sessionward-dialog')
        ?.shadowRoot?.querySelector<HTMLDialogElement>('[data-sessionward="dialog"]')?.open ??
      false,
  )
}

/**
 * Runs axe-core on the open dialog. Given the host element, axe checks its shadow tree too;
 * `shadowChecks` counts the checks that passed on nodes inside it (axe names those by a path:
 * the host's selector, then the inner one), to show it did look inside. `selector` runs it on
 * another element instead (`html`: the whole page, the dialog's shadow tree included).
 */
export async function axeDialog(
  page: Page,
  selector = 'sessionward-dialog',
): Promise<{ violations: string[]; shadowChecks: number }> {
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core'), 'utf8')
  await page.evaluate(source) // through DevTools: the page's CSP does not apply
  return page.evaluate(async (target) => {
    const { axe } = window as unknown as { axe: typeof import('axe-core') }
    const result = await axe.run(document.querySelector(target) as Element)
    return {
      violations: result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
      shadowChecks: result.passes.flatMap((rule) =>
        rule.nodes.filter((node) => Array.isArray(node.target[0])),
      ).length,
    }
  }, selector)
}

/** Moves the mouse now and then until `ms` have passed: a person reading and scrolling. */
export async function beBusy(page: Page, ms: number): Promise<void> {
  const end = Date.now() + ms
  let x = 100
  while (Date.now() < end) {
    x = x === 100 ? 300 : 100
    await page.mouse.move(x, 200 + (x % 7))
    await page.waitForTimeout(700)
  }
}

/**
 * Moves the mouse now and then in the background, as `beBusy` does, until the returned `stop()`
 * is called or the page closes. A move while the page navigates is simply skipped.
 */
export function keepBusy(page: Page): () => Promise<void> {
  let running = true
  const loop = (async () => {
    let x = 100
    while (running && !page.isClosed()) {
      x = x === 100 ? 300 : 100
      await page.mouse.move(x, 200 + (x % 7)).catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 700))
    }
  })()
  return async () => {
    running = false
    await loop
  }
}
