/** A run or measurement cannot start as asked; the message says what to do instead. */
export class RunSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunSetupError';
  }
}
