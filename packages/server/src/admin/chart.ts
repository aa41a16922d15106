import { jsx as h, type JSXNode } from 'hono/jsx'
import type { HourlyActivity } from '../store.ts'
import type { EndReason } from '../vocabulary.ts'
import { END_REASONS } from '../vocabulary.ts'

// Colours are SVG presentation attributes, not inline styles: a CSP without 'unsafe-inline'
// allows them.
export const STARTED_COLOUR = '#2563eb'
export const REASON_COLOURS: Record<EndReason, string> = {
  logout: '#16a34a',
  idle: '#ca8a04',
  absolute: '#7c3aed',
  revoked: '#db2777',
  evicted: '#ea580c',
  user_agent_changed: '#0891b2',
  admin: '#334155',
  refresh_reuse: '#dc2626',
  idp_logout: '#4d7c0f',
  idp_revoked: '#9f1239',
  reported: '#991b1b',
}

const WIDTH = 760
const HEIGHT = 260
const LEFT = 40
const RIGHT = 10
const TOP = 10
const BOTTOM = 30

function hourLabel(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 13)}:00`
}

/** A scale maximum of 1, 2 or 5 × 10ⁿ at or above `value`, so gridlines fall on round numbers. */
export function niceMax(value: number): number {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power
  return 10 * power
}

/**
 * Sessions started and ended per hour by reason over the last 24 hours, as an SVG bar chart:
 * per hour, a "started" bar and an "ended" bar stacked by reason. Every bar has a `<title>`
 * (a tooltip and its accessible name); the same numbers follow in a table.
 *
 * @example
 * c.html(String(activityChart(await hourlyActivity(fork(orm), Date.now()))))
 */
export function activityChart(activity: HourlyActivity) {
  const reasons = END_REASONS.filter((reason) => activity.ended[reason])
  const endedTotal = activity.hours.map((_, i) =>
    reasons.reduce((sum, reason) => sum + (activity.ended[reason]?.[i] ?? 0), 0),
  )
  const max = niceMax(Math.max(0, ...activity.started, ...endedTotal))
  const plotWidth = WIDTH - LEFT - RIGHT
  const plotHeight = HEIGHT - TOP - BOTTOM
  const slot = plotWidth / activity.hours.length
  const bar = Math.max(2, (slot - 4) / 2)
  const y = (n: number) => TOP + plotHeight - (n / max) * plotHeight
  const bars: JSXNode[] = []
  activity.hours.forEach((hour, i) => {
    const x = LEFT + i * slot + 2
    const label = `${hourLabel(hour)}–${hourLabel(hour + 3_600_000)} UTC`
    const started = activity.started[i] ?? 0
    if (started > 0) {
      bars.push(
        h(
          'rect',
          { x, y: y(started), width: bar, height: y(0) - y(started), fill: STARTED_COLOUR },
          h('title', null, `${label}: ${started} started`),
        ),
      )
    }
    let base = 0
    for (const reason of reasons) {
      const n = activity.ended[reason]?.[i] ?? 0
      if (n === 0) continue
      bars.push(
        h(
          'rect',
          {
            x: x + bar,
            y: y(base + n),
            width: bar,
            height: y(base) - y(base + n),
            fill: REASON_COLOURS[reason],
          },
          h('title', null, `${label}: ${n} ended (${reason})`),
        ),
      )
      base += n
    }
  })
  const grid = [0, max / 2, max].map((n) =>
    h(
      'g',
      null,
      h('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: y(n), y2: y(n), stroke: '#cbd5e1' }),
      h('text', { x: LEFT - 6, y: y(n) + 4, 'text-anchor': 'end', 'font-size': 11 }, String(n)),
    ),
  )
  const ticks = activity.hours
    .map((hour, i) => ({ hour, i }))
    .filter(({ i }) => i % 3 === 0)
    .map(({ hour, i }) =>
      h(
        'text',
        { x: LEFT + i * slot + slot / 2, y: HEIGHT - 10, 'text-anchor': 'middle', 'font-size': 11 },
        hourLabel(hour),
      ),
    )
  const total = activity.started.reduce((a, b) => a + b, 0)
  const endedSum = endedTotal.reduce((a, b) => a + b, 0)
  const legend = [
    { name: 'started', colour: STARTED_COLOUR },
    ...reasons.map((reason) => ({ name: `ended: ${reason}`, colour: REASON_COLOURS[reason] })),
  ]
  return h(
    'figure',
    { class: 'chart', 'data-testid': 'activity-chart' },
    h(
      'svg',
      {
        xmlns: 'http://www.w3.org/2000/svg',
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: 'img',
        'aria-labelledby': 'chart-title chart-desc',
        'font-family': 'system-ui, sans-serif',
        fill: 'currentColor',
      },
      h('title', { id: 'chart-title' }, 'Sessions started and ended per hour, last 24 hours (UTC)'),
      h(
        'desc',
        { id: 'chart-desc' },
        `${total} started and ${endedSum} ended in the last 24 hours. For each hour, the left bar counts sessions started and the right bar sessions ended, stacked by reason.`,
      ),
      ...grid,
      ...bars,
      ...ticks,
    ),
    h(
      'figcaption',
      null,
      h(
        'ul',
        { class: 'legend' },
        ...legend.map(({ name, colour }) =>
          h(
            'li',
            null,
            h(
              'svg',
              { width: 12, height: 12, viewBox: '0 0 12 12', 'aria-hidden': 'true' },
              h('rect', { width: 12, height: 12, fill: colour }),
            ),
            ` ${name}`,
          ),
        ),
      ),
      h(
        'details',
        null,
        h('summary', null, 'The numbers'),
        h(
          'table',
          null,
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'Hour (UTC)'),
              h('th', { scope: 'col' }, 'Started'),
              ...reasons.map((reason) => h('th', { scope: 'col' }, `Ended: ${reason}`)),
            ),
          ),
          h(
            'tbody',
            null,
            ...activity.hours.map((hour, i) =>
              h(
                'tr',
                null,
                h('th', { scope: 'row' }, hourLabel(hour)),
                h('td', null, String(activity.started[i] ?? 0)),
                ...reasons.map((reason) => h('td', null, String(activity.ended[reason]?.[i] ?? 0))),
              ),
            ),
          ),
        ),
      ),
    ),
  )
}
