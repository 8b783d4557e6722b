/**
 * A job cannot start from what it was given: a range it may not touch, a
 * state file of another run, an unreadable input file, a Kafka offset that is
 * gone. The message says what to give instead; the command answers it like
 * a bad argument (exit 2).
 */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
}
