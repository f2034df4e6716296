// config.js — where the app finds the API and the gateways.
//
// API: same origin (ChorusApi adds /api/v1; nginx routes /api/ to the worker).
//
// WebSocket: by default one URL, ws(s)://<page host>/ws (the load balancer).
// For tests and development the page can name gateways itself with the
// `ws` query parameter, a comma-separated list of ws:// or wss:// URLs:
//
//   http://127.0.0.1:8080/?ws=ws://127.0.0.1:9001/ws,ws://127.0.0.1:8080/ws#/w/1
//
// The client connects to the first URL first and, when a connection drops,
// moves on through the list round-robin. Routes live in the hash, so the
// parameter survives navigation. Invalid entries are ignored; an empty or
// fully invalid list falls back to the default.

export const API_ORIGIN = '';

export function defaultWsUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export function wsUrls(loc = window.location) {
  const raw = new URLSearchParams(loc.search).get('ws');
  if (!raw) return [defaultWsUrl(loc)];
  const urls = [];
  for (const part of raw.split(',')) {
    const s = part.trim();
    if (!s) continue;
    try {
      const u = new URL(s);
      if ((u.protocol === 'ws:' || u.protocol === 'wss:') && !urls.includes(u.href)) urls.push(u.href);
    } catch { /* not a URL: skipped */ }
  }
  return urls.length ? urls : [defaultWsUrl(loc)];
}
