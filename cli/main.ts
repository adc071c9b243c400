// `ferry`: the command line for CI pipelines and people. Every command takes --server/FERRY_SERVER,
// --token/FERRY_TOKEN and --output json; errors are one line on stderr and a non-zero exit code (cli/errors.ts).
import { parseArgs } from 'node:util';
import { FerryClient } from './client';
import { type CommandSpec, type Ctx, GLOBAL_OPTIONS, type OptionSpec } from './command';
import { adminCommands } from './commands/admin';
import { artifactCommands } from './commands/artifact';
import { insightCommands } from './commands/insights';
import { releaseCommands } from './commands/release';
import { temporalCommands } from './commands/temporal';
import { bashCompletion, zshCompletion } from './completion';
import { CliError, EXIT, usageError } from './errors';
import { Output } from './output';

const VERSION = (require('../package.json') as { version: string }).version;

const completionCommand: CommandSpec = {
  name: 'completion',
  summary: 'Shell completion script: source <(ferry completion bash) or source <(ferry completion zsh)',
  args: 'bash|zsh',
  argsCount: [1, 1],
  options: {},
  async run(ctx) {
    const shell = ctx.args[0];
    if (shell !== 'bash' && shell !== 'zsh') throw usageError(`completion for "${shell}" is not available: use bash or zsh`);
    process.stdout.write(shell === 'bash' ? bashCompletion(COMMANDS) : zshCompletion(COMMANDS));
  },
};

export const COMMANDS: CommandSpec[] = [...artifactCommands, ...releaseCommands, ...insightCommands, ...adminCommands, ...temporalCommands, completionCommand];

function optionHelp(opts: Record<string, OptionSpec>): string[] {
  return Object.entries(opts).map(([k, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` <${o.placeholder ?? 'value'}>` : ''}`;
    return `  ${left.padEnd(34)} ${o.description}`;
  });
}

function usage(): string {
  const groups: Array<[string, (c: CommandSpec) => boolean]> = [
    ['Artifacts', (c) => c.name.startsWith('artifact')],
    ['Releases', (c) => ['deploy', 'release', 'promote', 'rollback', 'watch', 'status', 'history', 'approve', 'reject'].includes(c.name)],
    ['Control and insight', (c) => c.name.startsWith('freeze') || c.name === 'insights'],
    ['Administration', (c) => c.name.startsWith('policy') || c.name.startsWith('token') || c.name.startsWith('flux') || c.name.startsWith('temporal')],
    ['Shell', (c) => c.name === 'completion'],
  ];
  const lines = ['ferry: release artifacts through Ferry, the GitOps release manager for Flux', '', 'Usage: ferry <command> [flags]', ''];
  for (const [title, match] of groups) {
    lines.push(`${title}:`);
    for (const c of COMMANDS.filter(match)) lines.push(`  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(28)} ${c.summary}`);
    lines.push('');
  }
  lines.push('Global flags:', ...optionHelp(GLOBAL_OPTIONS), '', 'Run "ferry <command> --help" for its flags, "ferry --version" for the version.');
  lines.push('Exit codes: 0 ok, 1 refused or unreachable, 2 bad usage, 3 release failed, 4 --timeout while waiting.');
  return lines.join('\n');
}

function commandHelp(c: CommandSpec): string {
  return [
    `Usage: ferry ${c.name}${c.args ? ` ${c.args}` : ''} [flags]`, '', c.summary, '', 'Flags:', ...optionHelp(c.options), '', 'Global flags:', ...optionHelp(GLOBAL_OPTIONS),
    ...(c.examples?.length ? ['', 'Examples:', ...c.examples.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

function findCommand(argv: string[]): { cmd: CommandSpec; rest: string[] } | null {
  const [a, b] = argv;
  const two = COMMANDS.find((c) => c.name === `${a} ${b}`);
  if (two) return { cmd: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === a);
  return one ? { cmd: one, rest: argv.slice(1) } : null;
}

export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let json = argv.includes('json') && argv.some((x, i) => (x === '--output' || x === '-o') && argv[i + 1] === 'json') || argv.includes('--output=json');
  const out = () => new Output(json);
  try {
    if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
      const target = argv[0] === 'help' && argv[1] ? findCommand(argv.slice(1)) : null;
      process.stdout.write(`${target ? commandHelp(target.cmd) : usage()}\n`);
      return EXIT.ok;
    }
    if (argv[0] === '--version' || argv[0] === 'version') {
      process.stdout.write(`ferry ${VERSION}\n`);
      return EXIT.ok;
    }
    const found = findCommand(argv);
    if (!found) {
      const groups = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `)).map((c) => c.name);
      throw usageError(groups.length ? `"${argv[0]}" needs a sub-command: ${groups.join(', ')}` : `unknown command "${argv[0]}" (see ferry --help)`);
    }
    const { cmd, rest } = found;
    const options = { ...GLOBAL_OPTIONS, ...cmd.options };
    let parsed: ReturnType<typeof parseArgs>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      parsed = parseArgs({ args: rest, options: options as any, allowPositionals: true, strict: true });
    } catch (err) {
      throw usageError(`${(err as Error).message.split('\n')[0].replace(/^Unknown option/, 'unknown flag')} (see ferry ${cmd.name} --help)`);
    }
    const opts = parsed.values as Record<string, any>;
    if (opts.help) {
      process.stdout.write(`${commandHelp(cmd)}\n`);
      return EXIT.ok;
    }
    const format = opts.output ?? 'text';
    if (format !== 'text' && format !== 'json') throw usageError(`--output must be text or json, not "${format}"`);
    json = format === 'json';
    const [min, max] = cmd.argsCount ?? [0, 0];
    if (parsed.positionals.length < min) throw usageError(`ferry ${cmd.name} needs ${cmd.args}`);
    if (parsed.positionals.length > max) throw usageError(`unexpected argument "${parsed.positionals[max]}" (see ferry ${cmd.name} --help)`);
    let client: FerryClient | undefined;
    const ctx: Ctx = {
      opts,
      args: parsed.positionals,
      out: out(),
      json,
      cwd: process.cwd(),
      env,
      interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
      client: () => (client ??= new FerryClient({ server: opts.server ?? env.FERRY_SERVER ?? 'http://127.0.0.1:8080', token: opts.token ?? env.FERRY_TOKEN })),
    };
    const code = await cmd.run(ctx);
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`ferry: ${err.message}\n`);
      if (json && !(err as { reported?: boolean }).reported) out().data({ error: err.message, exitCode: err.code });
      return err.code;
    }
    process.stderr.write(`ferry: unexpected error: ${(err as Error)?.stack ?? err}\n`);
    return EXIT.error;
  }
}

/** Entry point of bin/ferry.js. */
export function run(): void {
  const argv = process.argv.slice(2);
  if (argv[0] === '--') argv.shift();
  main(argv).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) run();
