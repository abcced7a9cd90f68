import { AutoloopError, EXIT } from '../core/errors.js';

/** A run or measurement cannot start as asked; the message says what to do instead. */
export class RunSetupError extends AutoloopError {
  override readonly exitCode = EXIT.usage;

  constructor(message: string) {
    super(message);
    this.name = 'RunSetupError';
  }
}
