import { execFile } from 'node:child_process';

/** Whether the GitOps remote answers `git ls-remote` within the time given; the reason when it does not. */
export function remoteReachable(remote: string, timeoutMs = 5_000): Promise<{ ok: boolean; reason?: string }> {
  return new Promise((resolve) => {
    execFile('git', ['ls-remote', '--heads', '--', remote], {
      timeout: timeoutMs,
      // Never prompt for credentials: a probe must fail, not hang.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes' },
    }, (err) => resolve(err ? { ok: false, reason: err.killed ? 'timed out' : 'unreachable' } : { ok: true }));
  });
}
