import { type CommandSpec, GLOBAL_OPTIONS, type OptionSpec } from './command';

const flags = (opts: Record<string, OptionSpec>) => Object.keys(opts).map((o) => `--${o}`);

/** bash: `source <(ferry completion bash)`. Completes commands, sub-commands, flags and flag values with choices. */
export function bashCompletion(commands: CommandSpec[]): string {
  const tops = [...new Set(commands.map((c) => c.name.split(' ')[0]))];
  const subs = new Map<string, string[]>();
  for (const c of commands) {
    const [top, sub] = c.name.split(' ');
    if (sub) subs.set(top, [...(subs.get(top) ?? []), sub]);
  }
  const cases = commands.map((c) => `    "${c.name}") opts="${[...flags(c.options), ...flags(GLOBAL_OPTIONS)].join(' ')}" ;;`).join('\n');
  const subCases = [...subs].map(([top, list]) => `    ${top}) COMPREPLY=($(compgen -W "${list.join(' ')}" -- "$cur")); return ;;`).join('\n');
  const choices = new Map<string, string[]>();
  for (const c of [...commands.map((x) => x.options), GLOBAL_OPTIONS]) for (const [k, o] of Object.entries(c)) if (o.choices) choices.set(k, o.choices);
  const choiceCases = [...choices].map(([k, v]) => `    --${k}) COMPREPLY=($(compgen -W "${v.join(' ')}" -- "$cur")); return ;;`).join('\n');
  return `# bash completion for ferry; load with: source <(ferry completion bash)
_ferry() {
  local cur prev words cword cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${choiceCases}
    --file|-f|--env-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${tops.join(' ')} help" -- "$cur")); return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case "\${COMP_WORDS[1]}" in
${subCases}
    esac
  fi
  cmd="\${COMP_WORDS[1]}"
  case "\${COMP_WORDS[1]} \${COMP_WORDS[2]}" in
${commands.filter((c) => c.name.includes(' ')).map((c) => `    "${c.name}") cmd="${c.name}" ;;`).join('\n')}
  esac
  opts=""
  case "$cmd" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _ferry ferry
`;
}

/** zsh: `source <(ferry completion zsh)` (or save as _ferry on $fpath). */
export function zshCompletion(commands: CommandSpec[]): string {
  const esc = (s: string) => s.replace(/'/g, "'\\''").replace(/:/g, '\\:').replace(/\[/g, '\\[').replace(/]/g, '\\]');
  const tops = [...new Set(commands.map((c) => c.name.split(' ')[0]))];
  const topDescr = tops.map((t) => {
    const direct = commands.find((c) => c.name === t);
    return `'${t}:${esc(direct?.summary ?? `${t} commands`)}'`;
  });
  const optSpecs = (c: CommandSpec) =>
    Object.entries({ ...c.options, ...GLOBAL_OPTIONS }).map(([k, o]) => {
      const action = o.type === 'boolean' ? '' : o.choices ? `:${k}:(${o.choices.join(' ')})` : k === 'file' || k === 'env-file' ? `:${k}:_files` : `:${o.placeholder ?? k}:`;
      return `'${o.multiple ? '*' : ''}--${k}[${esc(o.description)}]${action}'`;
    }).join(' ');
  const cases = commands.map((c) => `    '${c.name}') _arguments -s ${optSpecs(c)} '*:arg:' ;;`).join('\n');
  const subs = tops.filter((t) => commands.some((c) => c.name.startsWith(`${t} `))).map((t) => {
    const list = commands.filter((c) => c.name.startsWith(`${t} `)).map((c) => `'${c.name.split(' ')[1]}:${esc(c.summary)}'`);
    return `    ${t}) _describe 'sub-command' '(${list.join(' ')})' ;;`;
  }).join('\n');
  return `#compdef ferry
# zsh completion for ferry; load with: source <(ferry completion zsh)
_ferry() {
  local -a tops
  tops=(${topDescr.join(' ')})
  if (( CURRENT == 2 )); then
    _describe 'command' tops
    return
  fi
  if (( CURRENT == 3 )); then
    case "\${words[2]}" in
${subs}
    esac
  fi
  local cmd="\${words[2]}"
  case "\${words[2]} \${words[3]}" in
${commands.filter((c) => c.name.includes(' ')).map((c) => `    '${c.name}') cmd='${c.name}' ;;`).join('\n')}
  esac
  case "$cmd" in
${cases}
  esac
}
compdef _ferry ferry
`;
}
