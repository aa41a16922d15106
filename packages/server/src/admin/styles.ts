// The admin pages' only stylesheet, served as a route under the admin mount so a CSP of
// `default-src 'self'` (no 'unsafe-inline') allows it.
export const ADMIN_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.4; }
body { margin: 0; }
header { padding: 0.5rem 1rem; border-bottom: 1px solid #8884; }
main { padding: 1rem; max-width: 80rem; }
h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
.filters { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; align-items: end; }
.filters p { margin: 0; display: flex; flex-direction: column; }
.filters label { font-size: 0.85rem; }
input, select, button { font: inherit; padding: 0.2rem 0.4rem; }
button { cursor: pointer; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #8884; vertical-align: top; }
form.inline { margin: 0; }
.chart { margin: 0; }
.chart svg { max-width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; padding: 0; font-size: 0.85rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
.pages { margin-top: 1rem; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
`
