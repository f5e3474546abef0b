import { v5 } from 'uuid';
import { deterministicEventId, nameBasedUuid } from './event-id';

describe('nameBasedUuid', () => {
  it('gives the uuid package\'s v5 for any name, namespace and character set', () => {
    const namespaces = ['6f1b8e2a-4c1d-5e3f-9a7b-2d4c6e8f0a1b', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'F0E1D2C3-B4A5-4697-8877-665544332211'];
    const names = ['', 'a', 'org_1:key-1', 'run_x/frame-é', '日本語#0', '\u{1F600} emoji', 'x'.repeat(5000)];
    for (let index = 0; index < 200; index++) names.push(Math.random().toString(36).repeat(index % 7));
    for (const namespace of namespaces) for (const name of names) expect(nameBasedUuid(name, namespace)).toBe(v5(name, namespace));
  });

  it('keeps the event ids commands already stored (fixed namespace)', () => {
    expect(deterministicEventId('key-1', 0)).toBe(v5('key-1#0', '6f1b8e2a-4c1d-5e3f-9a7b-2d4c6e8f0a1b'));
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => nameBasedUuid('a', 'not-a-uuid')).toThrow('not a UUID');
  });
});
