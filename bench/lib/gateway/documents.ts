/** The ~200-byte document every system in a scenario sends as update n (the same bytes for ours and the peers). */
export function benchDocument(n: number, bytes = 200): string {
  const head = `{"n":${n},"text":"`;
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail;
}
