// The git helper process (see ./git-helper.ts): runs git commands for its parent, one IPC message each way.
import { GitCommandError, spawnGit } from './git';
import type { HelperReply, HelperRequest } from './git-helper';

// Structured clone turns Buffers into plain Uint8Arrays; spawnGit writes Buffers.
function asBuffers(input: HelperRequest['opts']['input']): HelperRequest['opts']['input'] {
  if (input === undefined || typeof input === 'string') return input;
  const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return Array.isArray(input) ? input.map(buf) : buf(input as Uint8Array);
}

process.on('message', (req: HelperRequest) => {
  spawnGit(req.args, { ...req.opts, input: asBuffers(req.opts.input) }).then(
    (r): HelperReply => ({ id: req.id, ok: true, code: r.code, stdout: r.stdoutBuffer, stderr: r.stderr }),
    (e: unknown): HelperReply => e instanceof GitCommandError
      ? { id: req.id, ok: false, git: { code: e.code, stderr: e.stderr, stdout: e.stdout, timedOut: e.timedOut, signal: e.signal } }
      : { id: req.id, ok: false, error: { message: (e as Error).message ?? String(e), code: (e as NodeJS.ErrnoException).code } },
  ).then((reply) => process.send?.(reply));
});
// The parent is gone (exited or killed): nothing will read the answers.
process.on('disconnect', () => process.exit(0));
