// Exit codes of every `apiaccess` command: 0 success, 1 a check or the command failed, 2 bad usage.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Thrown by a command to end with a given exit code; the message (if any) goes to stderr. */
export class CommandExit extends Error {
  readonly code = 'CommandExit';
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'CommandExit';
  }
}
