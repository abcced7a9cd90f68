import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Probot } from 'probot';
import { packageVersion } from '../engine/fingerprint.js';

/** Where a container platform (Docker's HEALTHCHECK, a Kubernetes probe) asks whether the App is up. */
export const HEALTH_PATH = '/healthz';
/** After a check that could not reach GitHub, the next `/healthz` may start another this much later. */
export const HEALTH_RECHECK_MS = 60_000;
/** Statuses of `GET /app` that mean GitHub refused the App's credentials (the App ID and key do not fit): final until restart. */
const REFUSED_STATUSES = new Set([401, 403, 404]);

/** What the App knows of its own authentication with GitHub (`GET /app`, with the JWT signed by its key). */
export type Authentication =
  | { state: 'unchecked' }
  | { state: 'authenticated'; slug: string | null; id: number | null }
  | { state: 'refused'; status: number; reason: string }
  | { state: 'unreachable'; reason: string };

/** The body of `GET /healthz`. `authenticated` is null while the App has not heard from GitHub yet. */
export interface HealthReport {
  status: 'ok' | 'refused' | 'unregistered';
  version: string;
  authenticated: boolean | null;
  /** The App's slug, once GitHub has said it. */
  app: string | null;
  /** Why GitHub refused the App, or could not be reached. */
  reason?: string;
}

/** The App's identity as `GET /app` returns it. */
export interface AppIdentity {
  slug?: string | null;
  id?: number | null;
}

/**
 * The App's health: whether GitHub accepts its credentials, checked at most once at a time and never while a
 * request waits (`report()` answers from what is known and starts a check in the background). A refusal is final
 * (the App ID and key come from the environment, and only a restart changes them); an unreachable GitHub is asked
 * again after {@link HEALTH_RECHECK_MS}.
 */
export class AppHealth {
  #state: Authentication = { state: 'unchecked' };
  #inFlight: Promise<Authentication> | null = null;
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly askGitHub: () => Promise<AppIdentity>,
    private readonly now: () => number = Date.now,
  ) {}

  get authentication(): Authentication {
    return this.#state;
  }

  /** Asks GitHub now (or joins the check in flight) and resolves with what it said. */
  check(): Promise<Authentication> {
    this.#inFlight ??= this.askGitHub()
      .then<Authentication, Authentication>(
        (identity) => ({ state: 'authenticated', slug: identity.slug ?? null, id: identity.id ?? null }),
        (error: unknown) => {
          const status = (error as { status?: unknown })?.status;
          const reason = (error as Error)?.message ?? String(error);
          return typeof status === 'number' && REFUSED_STATUSES.has(status) ? { state: 'refused', status, reason } : { state: 'unreachable', reason };
        },
      )
      .then((state) => {
        this.#state = state;
        this.#checkedAt = this.now();
        this.#inFlight = null;
        return state;
      });
    return this.#inFlight;
  }

  /** What `/healthz` answers now; starts a check when none was made yet, or the last could not reach GitHub long enough ago. */
  report(): HealthReport {
    const state = this.#state;
    const stale = state.state === 'unchecked' || (state.state === 'unreachable' && this.now() - this.#checkedAt >= HEALTH_RECHECK_MS);
    if (stale) void this.check();
    const version = packageVersion();
    switch (state.state) {
      case 'authenticated':
        return { status: 'ok', version, authenticated: true, app: state.slug };
      case 'refused':
        return { status: 'refused', version, authenticated: false, app: null, reason: `GitHub refused the App's credentials (${state.status}): ${state.reason}` };
      case 'unreachable':
        return { status: 'ok', version, authenticated: null, app: null, reason: `GitHub could not be asked: ${state.reason}` };
      default:
        return { status: 'ok', version, authenticated: null, app: null };
    }
  }
}

const healths = new WeakMap<Probot, AppHealth>();

/** The health of the App loaded into `app`, made on first use: it asks `GET /app` with the App's JWT. */
export function appHealth(app: Probot): AppHealth {
  let health = healths.get(app);
  if (!health) {
    health = new AppHealth(async () => {
      const octokit = await app.auth();
      const { data } = await octokit.rest.apps.getAuthenticated();
      return { slug: data?.slug ?? null, id: data?.id ?? null };
    });
    healths.set(app, health);
  }
  return health;
}

/** The HTTP status of a report: 503 when the App cannot work (credentials refused, not registered), else 200. */
export function healthStatus(report: HealthReport): number {
  return report.status === 'ok' ? 200 : 503;
}

/**
 * A handler for Probot's server (`addHandler`, see probot's lib/server/server.js: handlers answer true when they
 * took the request) and for a plain node:http server: `GET` or `HEAD` {@link HEALTH_PATH} answers `report()` as JSON.
 */
export function healthHandler(report: () => HealthReport): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if ((req.url ?? '').split('?')[0] !== HEALTH_PATH) return false;
    const body = report();
    res.writeHead(healthStatus(body), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`);
    return true;
  };
}
