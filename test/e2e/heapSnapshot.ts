/**
 * V8 heap snapshots (.heapsnapshot JSON) of the page: taken through the DevTools protocol; the bytes of compiled
 * code in one (the soak's readings, test/e2e/soak.ts); read into flat arrays, and the difference of two snapshots of
 * one page: the objects that are new in the later one (ids the earlier one lacks), by class, each charged to the
 * nearest older object holding it, with a path from the GC roots (scripts/heap-trace.ts).
 */

export interface HeapSnapshot {
  count: number;
  totalSize: number;
  type: string[];
  name: string[];
  id: Float64Array;
  size: Float64Array;
  /** Forward edges of node i: edgeStart[i] .. edgeStart[i + 1]. */
  edgeStart: Uint32Array;
  edgeType: string[];
  edgeName: string[];
  edgeTo: Uint32Array;
  /** Reverse (non-weak) edges: for node i, retainers retStart[i] .. retStart[i + 1] in retFrom / retEdge. */
  retStart: Uint32Array;
  retFrom: Uint32Array;
  retEdge: Uint32Array;
  /** BFS distance from the root over non-weak edges (-1: unreachable). */
  distance: Int32Array;
}

interface Raw {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export function parseSnapshot(text: string): HeapSnapshot {
  const raw = JSON.parse(text) as Raw;
  const m = raw.snapshot.meta;
  const nf = m.node_fields.length,
    ef = m.edge_fields.length;
  const [fType, fName, fId, fSize, fEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) =>
    m.node_fields.indexOf(f),
  ) as [number, number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const nodeTypes = m.node_types[0],
    edgeTypes = m.edge_types[0];
  const count = raw.nodes.length / nf;
  const type: string[] = new Array(count),
    name: string[] = new Array(count);
  const id = new Float64Array(count),
    size = new Float64Array(count),
    edgeStart = new Uint32Array(count + 1);
  let totalSize = 0,
    e = 0;
  for (let i = 0; i < count; i++) {
    const o = i * nf;
    type[i] = nodeTypes[raw.nodes[o + fType]!]!;
    name[i] = raw.strings[raw.nodes[o + fName]!]!;
    id[i] = raw.nodes[o + fId]!;
    size[i] = raw.nodes[o + fSize]!;
    totalSize += size[i]!;
    edgeStart[i] = e;
    e += raw.nodes[o + fEdges]!;
  }
  edgeStart[count] = e;
  const edgeCount = raw.edges.length / ef;
  const edgeType: string[] = new Array(edgeCount),
    edgeName: string[] = new Array(edgeCount),
    edgeTo = new Uint32Array(edgeCount);
  for (let j = 0; j < edgeCount; j++) {
    const o = j * ef;
    const t = edgeTypes[raw.edges[o + eType]!]!;
    edgeType[j] = t;
    const n = raw.edges[o + eName]!;
    edgeName[j] = t === 'element' || t === 'hidden' ? `[${n}]` : raw.strings[n]!;
    edgeTo[j] = raw.edges[o + eTo]! / nf;
  }
  const retCount = new Uint32Array(count + 1);
  for (let j = 0; j < edgeCount; j++) if (edgeType[j] !== 'weak') retCount[edgeTo[j]!]!++;
  const retStart = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) retStart[i + 1] = retStart[i]! + retCount[i]!;
  const fill = retStart.slice();
  const retFrom = new Uint32Array(retStart[count]!),
    retEdge = new Uint32Array(retStart[count]!);
  for (let i = 0; i < count; i++)
    for (let j = edgeStart[i]!; j < edgeStart[i + 1]!; j++) {
      if (edgeType[j] === 'weak') continue;
      const k = fill[edgeTo[j]!]!++;
      retFrom[k] = i;
      retEdge[k] = j;
    }
  const distance = new Int32Array(count).fill(-1);
  distance[0] = 0;
  const queue = new Uint32Array(count);
  let head = 0,
    tail = 1;
  while (head < tail) {
    const i = queue[head++]!;
    for (let j = edgeStart[i]!; j < edgeStart[i + 1]!; j++) {
      const t = edgeTo[j]!;
      if (edgeType[j] === 'weak' || distance[t] !== -1) continue;
      distance[t] = distance[i]! + 1;
      queue[tail++] = t;
    }
  }
  return {
    count,
    totalSize,
    type,
    name,
    id,
    size,
    edgeStart,
    edgeType,
    edgeName,
    edgeTo,
    retStart,
    retFrom,
    retEdge,
    distance,
  };
}

/** A node's class for grouping: the constructor for objects and closures, the node type otherwise. */
export function nodeClass(s: HeapSnapshot, i: number): string {
  const t = s.type[i]!;
  if (t === 'object' || t === 'closure' || t === 'native' || t === 'hidden' || t === 'synthetic')
    return `${s.name[i]!.slice(0, 80)} (${t})`;
  return `(${t})`;
}

/** A shortest path from the GC roots to node i (over non-weak edges), as "Class.edge → Class.edge → …". */
export function retainerPath(s: HeapSnapshot, i: number, maxSteps = 14): string {
  const steps: string[] = [];
  let n = i;
  for (let k = 0; k < maxSteps && n !== 0; k++) {
    let best = -1,
      bestEdge = -1;
    for (let r = s.retStart[n]!; r < s.retStart[n + 1]!; r++) {
      const from = s.retFrom[r]!;
      if (s.distance[from]! < 0) continue;
      if (best < 0 || s.distance[from]! < s.distance[best]!) {
        best = from;
        bestEdge = s.retEdge[r]!;
      }
    }
    if (best < 0) break;
    steps.push(`${nodeClass(s, best)} .${s.edgeName[bestEdge]}`);
    n = best;
  }
  return steps.reverse().join(' → ') + ` → ${nodeClass(s, i)}`;
}

export interface ClassGrowth {
  cls: string;
  count: number;
  bytes: number;
}
export interface HolderEdge {
  holder: string;
  edge: string;
  count: number;
  bytes: number;
  path: string;
  targets: string;
}
export interface SnapshotDiff {
  totalBefore: number;
  totalAfter: number;
  /** Objects alive in the later snapshot and absent from the earlier one, by class. */
  added: ClassGrowth[];
  /** The same for objects of the earlier snapshot that are gone. */
  removed: ClassGrowth[];
  /** Objects in both whose size changed (arrays and tables grown or shrunk in place): the net change by class. */
  resized: ClassGrowth[];
  /** Bytes of the later snapshot's objects that no GC root reaches (counted in its total, in no class above). */
  unreachableAfter: number;
  /** Edges from old objects to new ones: who holds what the later snapshot added (bytes: the new targets' sizes). */
  holders: HolderEdge[];
}

function group(s: HeapSnapshot, nodes: number[]): ClassGrowth[] {
  const m = new Map<string, ClassGrowth>();
  for (const i of nodes) {
    const c = nodeClass(s, i);
    const g = m.get(c) ?? { cls: c, count: 0, bytes: 0 };
    g.count++;
    g.bytes += s.size[i]!;
    m.set(c, g);
  }
  return [...m.values()].sort((a, b) => b.bytes - a.bytes);
}

export function diffSnapshots(before: HeapSnapshot, after: HeapSnapshot): SnapshotDiff {
  const oldIds = new Set<number>();
  for (let i = 0; i < before.count; i++) oldIds.add(before.id[i]!);
  const newIds = new Set<number>();
  const added: number[] = [];
  for (let i = 0; i < after.count; i++) {
    newIds.add(after.id[i]!);
    if (!oldIds.has(after.id[i]!) && after.distance[i]! >= 0) added.push(i);
  }
  const removed: number[] = [];
  const oldSize = new Map<number, number>();
  for (let i = 0; i < before.count; i++) {
    if (!newIds.has(before.id[i]!)) removed.push(i);
    else oldSize.set(before.id[i]!, before.size[i]!);
  }
  const resized = new Map<string, ClassGrowth>();
  let unreachableAfter = 0;
  for (let i = 0; i < after.count; i++) {
    if (after.distance[i]! < 0) unreachableAfter += after.size[i]!;
    const was = oldSize.get(after.id[i]!);
    if (was === undefined || was === after.size[i]) continue;
    const c = nodeClass(after, i);
    const g = resized.get(c) ?? { cls: c, count: 0, bytes: 0 };
    g.count++;
    g.bytes += after.size[i]! - was;
    resized.set(c, g);
  }
  // Each new object is charged once, to the nearest old object that holds it (through chains of new objects):
  // a BFS down from the edges old → new, those of old objects nearer the GC roots first.
  const isNew = new Uint8Array(after.count);
  for (const i of added) isNew[i] = 1;
  const boundary: { from: number; edge: number }[] = [];
  for (const i of added)
    for (let r = after.retStart[i]!; r < after.retStart[i + 1]!; r++) {
      const from = after.retFrom[r]!;
      if (!isNew[from] && after.distance[from]! >= 0) boundary.push({ from, edge: after.retEdge[r]! });
    }
  boundary.sort((a, b) => after.distance[a.from]! - after.distance[b.from]!);
  const charged = new Uint8Array(after.count);
  const holders = new Map<string, HolderEdge & { sample: number; targetSet: Map<string, number> }>();
  for (const { from, edge } of boundary) {
    const to = after.edgeTo[edge]!;
    if (charged[to]) continue;
    const key = `${nodeClass(after, from)}|${after.edgeName[edge]}`;
    const h = holders.get(key) ?? {
      holder: nodeClass(after, from),
      edge: after.edgeName[edge]!,
      count: 0,
      bytes: 0,
      path: '',
      targets: '',
      sample: from,
      targetSet: new Map<string, number>(),
    };
    const stack = [to];
    charged[to] = 1;
    while (stack.length) {
      const n = stack.pop()!;
      h.count++;
      h.bytes += after.size[n]!;
      const c = nodeClass(after, n);
      h.targetSet.set(c, (h.targetSet.get(c) ?? 0) + 1);
      for (let j = after.edgeStart[n]!; j < after.edgeStart[n + 1]!; j++) {
        const t = after.edgeTo[j]!;
        if (after.edgeType[j] === 'weak' || !isNew[t] || charged[t]) continue;
        charged[t] = 1;
        stack.push(t);
      }
    }
    holders.set(key, h);
  }
  const holderList = [...holders.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .map(({ sample, targetSet, ...h }) => ({
      ...h,
      path: retainerPath(after, sample),
      targets: [...targetSet.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([t, n]) => `${n}× ${t}`)
        .join('; '),
    }));
  return {
    totalBefore: before.totalSize,
    totalAfter: after.totalSize,
    added: group(after, added),
    removed: group(before, removed),
    resized: [...resized.values()].sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes)),
    unreachableAfter,
    holders: holderList,
  };
}

export function formatDiff(d: SnapshotDiff, moves: number, top = 25): string {
  const kb = (b: number) => (b / 1024).toFixed(1);
  const net = new Map<string, { count: number; bytes: number }>();
  for (const g of d.added) net.set(g.cls, { count: g.count, bytes: g.bytes });
  for (const g of d.removed) {
    const n = net.get(g.cls) ?? { count: 0, bytes: 0 };
    n.count -= g.count;
    n.bytes -= g.bytes;
    net.set(g.cls, n);
  }
  const netList = [...net.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
  const isNative = (c: string) => c.endsWith('(native)');
  const netJs = netList.filter(([c]) => !isNative(c)).reduce((a, [, n]) => a + n.bytes, 0);
  const netNative = netList.filter(([c]) => isNative(c)).reduce((a, [, n]) => a + n.bytes, 0);
  const lines = [
    `  total self size ${kb(d.totalBefore)} → ${kb(d.totalAfter)} KiB (${kb((d.totalAfter - d.totalBefore) / moves)} KiB/move)`,
    `  net: V8 objects ${kb(netJs)} KiB (${kb(netJs / moves)} KiB/move), Blink objects ${kb(netNative)} KiB`,
    `  of which: resized in place ${kb(d.resized.reduce((a, g) => a + g.bytes, 0))} KiB; unreachable in the later snapshot ${kb(d.unreachableAfter)} KiB`,
    `  net change by class (added − removed), largest first:`,
    ...netList.slice(0, top).map(([c, n]) => `    ${kb(n.bytes).padStart(8)} KiB ${String(n.count).padStart(6)}  ${c}`),
    `  resized in place, by class (net, largest change first):`,
    ...d.resized
      .slice(0, top)
      .map((g) => `    ${kb(g.bytes).padStart(8)} KiB ${String(g.count).padStart(6)}  ${g.cls}`),
    `  new and alive, by class:`,
    ...d.added.slice(0, top).map((g) => `    ${kb(g.bytes).padStart(8)} KiB ${String(g.count).padStart(6)}  ${g.cls}`),
    `  new objects by the nearest old object holding them (each charged once), largest first:`,
    ...d.holders
      .slice(0, top)
      .map(
        (h) =>
          `    ${kb(h.bytes).padStart(8)} KiB ${String(h.count).padStart(6)}  ${h.holder} .${h.edge}\n` +
          `        targets: ${h.targets}\n        path: ${h.path}`,
      ),
  ];
  return lines.join('\n');
}

/**
 * V8's objects for compiled functions that are not of type "code" but come and go with it (new per compiled
 * function in the mixed soak's traces: ~90 of each per 150 moves, each held by that code).
 */
const CODE_BOOKKEEPING = new Set(['system / ProtectedFixedArray', 'system / SharedFunctionInfoWrapper']);

/**
 * Bytes of V8's compiled code in a snapshot: nodes of type "code" (bytecode, machine code and their metadata) and
 * the bookkeeping V8 keeps beside each compiled function (CODE_BOOKKEEPING).
 */
export function codeBytes(text: string): number {
  const raw = JSON.parse(text) as Raw;
  const m = raw.snapshot.meta;
  const nf = m.node_fields.length;
  const [fType, fName, fSize] = ['type', 'name', 'self_size'].map((f) => m.node_fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const code = m.node_types[0].indexOf('code');
  const bookkeeping = new Set(raw.strings.flatMap((s, i) => (CODE_BOOKKEEPING.has(s) ? [i] : [])));
  let bytes = 0;
  for (let o = 0; o < raw.nodes.length; o += nf) {
    if (raw.nodes[o + fType] === code || bookkeeping.has(raw.nodes[o + fName]!)) bytes += raw.nodes[o + fSize]!;
  }
  return bytes;
}

/** A heap snapshot of the page (after the GC the snapshot itself runs), as its JSON text. */
export async function takeHeapSnapshot(cdp: {
  send(method: 'HeapProfiler.takeHeapSnapshot', params: { reportProgress: boolean }): Promise<unknown>;
  on(event: 'HeapProfiler.addHeapSnapshotChunk', f: (e: { chunk: string }) => void): unknown;
  off(event: 'HeapProfiler.addHeapSnapshotChunk', f: (e: { chunk: string }) => void): unknown;
}): Promise<string> {
  const chunks: string[] = [];
  const onChunk = (e: { chunk: string }) => chunks.push(e.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  try {
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  }
  return chunks.join('');
}
