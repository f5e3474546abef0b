/**
 * FAKE — test support only. A throwaway CA and a server certificate it signed (for `localhost` and
 * 127.0.0.1), made with openssl in a temporary directory for one test run and removed after it:
 * no key is ever committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ThrowawayTls {
  /** The CA certificate file, as `tlsCAFile` names it. */
  caFile: string;
  certChain: Buffer;
  privateKey: Buffer;
  /** A CA the server's certificate does not chain to (a client trusting only it must refuse the server). */
  otherCaFile: string;
  remove(): void;
}

export function createThrowawayTls(): ThrowawayTls {
  const dir = mkdtempSync(join(tmpdir(), 'esdb-emulator-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const makeCa = (name: string) => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`));
  };
  makeCa('fake-esdb-ca');
  makeCa('other-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('node.key'), '-out', file('node.csr'));
  writeFileSync(file('node.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(
    'x509', '-req', '-in', file('node.csr'), '-CA', file('fake-esdb-ca.crt'), '-CAkey', file('fake-esdb-ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', file('node.ext'), '-out', file('node.crt'),
  );
  return {
    caFile: file('fake-esdb-ca.crt'),
    certChain: readFileSync(file('node.crt')),
    privateKey: readFileSync(file('node.key')),
    otherCaFile: file('other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
