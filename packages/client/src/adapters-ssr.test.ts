// @vitest-environment node
// Server rendering: no `window` here, so any touch of it while rendering would throw.
import { createElement } from 'react'
import { renderToString as renderReact } from 'react-dom/server'
import { describe, expect, test } from 'vitest'
import { createSSRApp, defineComponent, h } from 'vue'
import { renderToString as renderVue } from 'vue/server-renderer'
import type { SessionWardOptions } from './index.ts'
import { SessionWardProvider, useSessionWard as useReactWard } from './react.ts'
import { useSessionWard as useVueWard } from './vue.ts'

const requests: string[] = []
const options: SessionWardOptions = {
  pingUrl: '/session/ping',
  logoutUrl: '/session/logout',
  fetch: async (url) => {
    requests.push(String(url))
    return new Response(null, { status: 204 })
  },
}

describe('server rendering', () => {
  test('React: the provider and hook render "stopped" without a window and start nothing', () => {
    expect(typeof window).toBe('undefined')
    function Status() {
      const { state, remaining } = useReactWard()
      return createElement('output', null, `${state} ${remaining}`)
    }
    const html = renderReact(createElement(SessionWardProvider, { options }, createElement(Status)))
    expect(html).toBe('<output>stopped 0</output>')
    expect(requests).toEqual([])
  })

  test('Vue: the composable renders "stopped" without a window and starts nothing', async () => {
    const Status = defineComponent({
      setup() {
        // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable, called in setup()
        const { state, remaining } = useVueWard(options)
        return () => h('output', `${state.value} ${remaining.value}`)
      },
    })
    expect(await renderVue(createSSRApp(Status))).toBe('<output>stopped 0</output>')
    expect(requests).toEqual([])
  })
})
