/** A user error in flags or input: printed one problem per line, exit code 2. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
