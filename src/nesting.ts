/**
 * Input that is nested very deeply, or YAML whose alias refers to the node that contains it, makes every recursive
 * walk over it (canonical JSON, templating, manifest checks) overflow the stack: a 500 or a release failing with
 * "Maximum call stack size exceeded". This walk is iterative, so it can say what is wrong before any other does.
 */
export const MAX_NESTING = 100;

/** Null when `value` is a tree no deeper than `maxDepth`, else what is wrong and where (`a.b[3]`). */
export function nestingProblem(value: unknown, maxDepth = MAX_NESTING): string | null {
  const onPath = new Set<object>();
  const stack: Array<{ node: unknown; depth: number; where: string; leave?: boolean }> = [{ node: value, depth: 0, where: '' }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.node === null || typeof top.node !== 'object') continue;
    const node = top.node as object;
    if (top.leave) {
      onPath.delete(node);
      continue;
    }
    if (onPath.has(node)) return `${top.where || 'the document'} refers to a node that contains it (a recursive YAML alias)`;
    if (top.depth >= maxDepth) return `${top.where || 'the document'} is nested more than ${maxDepth} levels deep`;
    onPath.add(node);
    stack.push({ node, depth: top.depth, where: top.where, leave: true });
    const entries: Array<[string, unknown]> = Array.isArray(node)
      ? node.map((v, i) => [`${top.where}[${i}]`, v])
      : Object.entries(node).map(([k, v]) => [top.where === '' ? k : `${top.where}.${k}`, v]);
    for (const [where, child] of entries) stack.push({ node: child, depth: top.depth + 1, where });
  }
  return null;
}

/**
 * The same limit on raw JSON text, checked before it is parsed: parsing millions of nested brackets already blocks
 * the event loop for seconds, and what comes out cannot be walked recursively.
 */
export function jsonNestingProblem(text: Uint8Array, maxDepth = MAX_NESTING): string | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `JSON is nested more than ${maxDepth} levels deep (at byte ${i})`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}
