import { execFile } from 'node:child_process';

/** A content problem in what is being rendered: retrying cannot fix it. */
export class RenderError extends Error {}

/** An infrastructure problem while rendering (a chart repository unreachable): worth retrying. */
export class RenderUnavailableError extends Error {}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs helm or kustomize with a minimal environment: the server's own variables (tokens, database URLs) are none
 * of the tool's business, and a user's ~/.config/helm must not change what Ferry renders.
 */
export function runTool(bin: string, args: string[], opts: { env: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env }, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          reject(Object.assign(new Error(stderr.trim() || e.message), { code: e.code, killed: e.killed, stderr }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** Tool messages quote our temporary paths; they mean nothing to the user. */
export function cleanToolMessage(message: string, ...dirs: string[]): string {
  let out = message;
  for (const d of dirs) out = out.split(`${d}/`).join('').split(d).join('.');
  return out.replace(/^Error: /, '').trim().slice(0, 4000);
}
