// What the portal is made of, and the notices its licences ask for.

import { html } from '../ui.js';

export function About() {
  return html`<section class="about">
    <h1>About Stratus</h1>
    <p>Stratus is an open-source, multi-user algorithmic trading platform. This portal is a client
      of its public HTTP API and WebSocket (<a href="/openapi.json">the OpenAPI document</a>): anything it shows, a bot can read too.</p>
    <h2>Third-party software</h2>
    <ul>
      <li><strong>TradingView Lightweight Charts™</strong> 4.2.3 — Copyright (с) 2025 TradingView, Inc.
        <a href="https://www.tradingview.com/" rel="noopener noreferrer">https://www.tradingview.com/</a>.
        Apache License 2.0: <a href="/portal/vendor/LICENSE.lightweight-charts.txt">licence</a>, <a href="/portal/vendor/NOTICE.lightweight-charts.txt">notice</a>.</li>
      <li><strong>htm</strong> 3.1.1 (with its bundled Preact) — Apache License 2.0: <a href="/portal/vendor/LICENSE.htm.txt">licence</a>.</li>
      <li><strong>Preact</strong> — MIT: <a href="/portal/vendor/LICENSE.preact.txt">licence</a>.</li>
    </ul>
  </section>`;
}
