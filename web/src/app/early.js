// early.js — what the page starts before the app's module graph has loaded.
//
// index.html loads this module as its own async script, next to main.js:
// its few imports arrive long before main.js's whole graph, so it runs
// first. It creates the app's API client (main.js hands it to the Session)
// and, when the page opens on a board or whiteboard with stored tokens,
// starts loading that room's snapshot (prefetch.js), while the rest of the
// app loads, the session is restored and the workspace is loaded.

import { ChorusApi } from '../lib/api.js';
import { API_ORIGIN } from './config.js';
import { prefetchSnapshot } from './prefetch.js';
import { parseRoute } from './router.js';

/** The app's one API client (tokens kept in localStorage). */
export const api = new ChorusApi({ baseUrl: API_ORIGIN, storage: window.localStorage });

/** The route the page was opened on. */
export const firstRoute = parseRoute();

if (firstRoute.name === 'room' && api.loggedIn) prefetchSnapshot(api, firstRoute.room);
