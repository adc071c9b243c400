import type { FerryClient } from './client';
import type { Output } from './output';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  description: string;
  /** Shown in help: `--env <name>`. */
  placeholder?: string;
  /** For completion. */
  choices?: string[];
}

export interface Ctx {
  opts: Record<string, any>;
  args: string[];
  out: Output;
  json: boolean;
  cwd: string;
  env: Record<string, string | undefined>;
  client(): FerryClient;
  /** Whether a person sits at this terminal (interactive choices are offered only then). */
  interactive: boolean;
}

export interface CommandSpec {
  /** One or two words: `deploy`, `artifact create`. */
  name: string;
  summary: string;
  /** Positional arguments as shown in help, e.g. `<release-id>`. */
  args?: string;
  argsCount?: [number, number];
  options: Record<string, OptionSpec>;
  examples?: string[];
  run(ctx: Ctx): Promise<number | void>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  server: { type: 'string', description: 'Ferry API URL (FERRY_SERVER; default http://127.0.0.1:8080)', placeholder: 'url' },
  token: { type: 'string', description: 'API token (FERRY_TOKEN)', placeholder: 'token' },
  output: { type: 'string', short: 'o', description: 'text (default) or json', placeholder: 'format', choices: ['text', 'json'] },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

/** Options that commands following a release share. */
export const WAIT_OPTIONS: Record<string, OptionSpec> = {
  wait: { type: 'boolean', short: 'w', description: 'follow the release until it ends; exit 0 only if it succeeded' },
  timeout: { type: 'string', description: 'give up waiting after this long (default 20m)', placeholder: 'duration' },
};

export const APP_ENV_OPTIONS: Record<string, OptionSpec> = {
  app: { type: 'string', short: 'a', description: 'application name', placeholder: 'app' },
  env: { type: 'string', short: 'e', description: 'environment name', placeholder: 'env' },
};
