// Exit status of every rankdistill command, the same for all of them (documented in
// docs/cli-reliability.md), and how a long command picks one from what it did.

export const ExitCode = {
  /** Everything asked for is done. */
  OK: 0,
  /** An unexpected error (a bug or a broken environment): the stack is printed. */
  ERROR: 1,
  /**
   * Bad input, found before any work: arguments, input files, a config, a missing API-key variable,
   * or an output written earlier with other settings. Fix the input and run again.
   */
  BAD_INPUT: 2,
  /** Some items failed, the others are written. Run the same command again to retry only the failed ones. */
  PARTIAL: 3,
  /**
   * Nothing done: every item of this run failed, or a fatal error (authentication, an unknown model, a
   * server that refuses connections) stopped the run before any item succeeded.
   */
  NOTHING_DONE: 4,
  /** Stopped by SIGINT (Ctrl-C; 128 + 2) after saving what a resume needs. */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM (128 + 15) after saving what a resume needs. */
  TERMINATED: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit status of a run that did `done` items and saw `failed` fail (a fatal stop counts as failure). */
export function outcomeCode(done: number, failed: number, fatal = false): ExitCodeValue {
  if (!failed && !fatal) return ExitCode.OK;
  return done > 0 ? ExitCode.PARTIAL : ExitCode.NOTHING_DONE;
}

/** 130 for SIGINT, 143 for SIGTERM. */
export function signalCode(signal: NodeJS.Signals): ExitCodeValue {
  return signal === 'SIGTERM' ? ExitCode.TERMINATED : ExitCode.INTERRUPTED;
}
