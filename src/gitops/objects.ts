/**
 * Computes git object ids in-process, so "would this change the directory?" can be answered by comparing one tree id
 * with `<tip>:<dir>` instead of building a commit first.
 */
import { createHash } from 'node:crypto';

export type HashAlgo = 'sha1' | 'sha256';

function hashObject(algo: HashAlgo, type: string, body: Buffer): Buffer {
  const h = createHash(algo);
  h.update(`${type} ${body.length}\0`);
  h.update(body);
  return h.digest();
}

export function blobId(algo: HashAlgo, content: string | Buffer): string {
  return hashObject(algo, 'blob', Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8')).toString('hex');
}

export function emptyTreeId(algo: HashAlgo): string {
  return hashObject(algo, 'tree', Buffer.alloc(0)).toString('hex');
}

interface TreeNode {
  files: Map<string, Buffer>; // name -> raw blob id
  dirs: Map<string, TreeNode>;
}

/** Tree id of a directory containing exactly `files` (relative paths, may be nested), all mode 100644. Null when empty. */
export function treeIdForFiles(algo: HashAlgo, files: Record<string, string>): string | null {
  const names = Object.keys(files);
  if (names.length === 0) return null;
  const root: TreeNode = { files: new Map(), dirs: new Map() };
  for (const path of names) {
    const segs = path.split('/');
    let node = root;
    for (const seg of segs.slice(0, -1)) {
      let next = node.dirs.get(seg);
      if (!next) {
        next = { files: new Map(), dirs: new Map() };
        node.dirs.set(seg, next);
      }
      node = next;
    }
    node.files.set(segs[segs.length - 1]!, hashObject(algo, 'blob', Buffer.from(files[path]!, 'utf8')));
  }
  return writeTree(algo, root).toString('hex');
}

function writeTree(algo: HashAlgo, node: TreeNode): Buffer {
  const entries: { sortKey: Buffer; bytes: Buffer }[] = [];
  for (const [name, id] of node.files) {
    const nameBuf = Buffer.from(name, 'utf8');
    entries.push({ sortKey: nameBuf, bytes: Buffer.concat([Buffer.from('100644 '), nameBuf, Buffer.from([0]), id]) });
  }
  for (const [name, child] of node.dirs) {
    const nameBuf = Buffer.from(name, 'utf8');
    const id = writeTree(algo, child);
    // git sorts tree entries as if directory names had a trailing '/'
    entries.push({
      sortKey: Buffer.concat([nameBuf, Buffer.from('/')]),
      bytes: Buffer.concat([Buffer.from('40000 '), nameBuf, Buffer.from([0]), id]),
    });
  }
  entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  return hashObject(algo, 'tree', Buffer.concat(entries.map((e) => e.bytes)));
}
