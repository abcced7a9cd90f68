import { DefaultArtifactClient } from '@actions/artifact';
import { AutoloopError } from '../core/errors.js';

/** Uploads files as a workflow artifact. The one seam between the action and GitHub's artifact service. */
export interface ArtifactStore {
  /**
   * Uploads `files` (absolute paths below `rootDirectory`) as the artifact `name`.
   * Returns the artifact's id and size, or null when uploading is not possible here (not on a runner).
   */
  upload(name: string, files: string[], rootDirectory: string): Promise<{ id: number; size: number } | null>;
}

/** Uploading an artifact failed; names the artifact and keeps the service's error as `cause`. */
export class ArtifactUploadError extends AutoloopError {
  override readonly name = 'ArtifactUploadError';
  readonly artifact: string;

  constructor(artifact: string, reason: string, cause?: unknown) {
    super(`artifact "${artifact}": upload failed: ${reason}`, { subject: { artifact }, ...(cause === undefined ? {} : { cause }) });
    this.artifact = artifact;
  }
}

/**
 * Whether the artifact service is reachable from here: the runner hands these two variables only to
 * JavaScript actions, so outside one (a local CLI run, a `run:` step) they are missing.
 */
export function canUploadArtifacts(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL);
}

/**
 * The real {@link ArtifactStore}, over `@actions/artifact`'s `DefaultArtifactClient` (artifacts v4: Twirp
 * calls to the results service plus a zip streamed to blob storage). `retentionDays` is capped by the
 * repository's own limit. Off a runner `upload` returns null; any failure is one {@link ArtifactUploadError}.
 */
export function githubArtifactStore(options: { retentionDays?: number } = {}): ArtifactStore {
  const client = new DefaultArtifactClient();
  return {
    async upload(name, files, rootDirectory) {
      // Checked per call, not at construction: the client itself reads the environment only when uploading.
      if (!canUploadArtifacts()) return null;
      let response;
      try {
        response = await client.uploadArtifact(name, files, rootDirectory, { retentionDays: options.retentionDays });
      } catch (error) {
        throw new ArtifactUploadError(name, error instanceof Error ? error.message : String(error), error);
      }
      // The client leaves the id out only when nothing was finalised; a store that returns no id is useless.
      if (response.id === undefined) throw new ArtifactUploadError(name, 'the artifact service returned no artifact id');
      return { id: response.id, size: response.size ?? 0 };
    },
  };
}
