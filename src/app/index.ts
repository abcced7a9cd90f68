import type { ApplicationFunctionOptions, Probot } from 'probot';
import { registerHandlers } from './handlers.js';
import { appHealth, healthHandler } from './health.js';

/**
 * The autoloop GitHub App, as Probot loads it: `npm start` (src/app/server.ts, through Probot's `run`), or
 * `probot run lib/app/index.js`. When it runs in Probot's HTTP server it also answers `GET /healthz`.
 */
export default function autoloopApp(app: Probot, options?: ApplicationFunctionOptions): void {
  registerHandlers(app);
  serveHealth(app, options);
}

/**
 * Adds `/healthz` to Probot's server. Nothing is asked of GitHub until the endpoint is. `Probot#load` without a
 * server hands the app an `addHandler` that throws "No server instance" (probot's lib/probot.js): in-process tests
 * load the App that way, and have no endpoint to serve.
 */
function serveHealth(app: Probot, options: ApplicationFunctionOptions | undefined): void {
  if (typeof options?.addHandler !== 'function') return;
  try {
    options.addHandler(healthHandler(() => appHealth(app).report()));
  } catch (error) {
    if ((error as Error)?.message !== 'No server instance') throw error;
  }
}
