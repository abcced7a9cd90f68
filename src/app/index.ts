import type { Probot } from 'probot';
import { registerHandlers } from './handlers.js';

/** The autoloop GitHub App, as Probot loads it (`probot run lib/app/index.js`). */
export default function autoloopApp(app: Probot): void {
  registerHandlers(app);
}
