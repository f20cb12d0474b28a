/** A throw-away certificate authority and a server certificate for 127.0.0.1, made with openssl. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  readonly directory: string;
  /** The CA certificate, named as skopeo's --cert-dir and Docker's certs.d expect it. */
  readonly caPath: string;
  readonly certificatePath: string;
  readonly keyPath: string;
}

export async function makeTestCertificates(directory: string): Promise<TestCertificates> {
  const file = (name: string): string => join(directory, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Registry Test CA', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')]);
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('server.ext'), '-out', file('server.crt')]);
  return { directory, caPath: file('ca.crt'), certificatePath: file('server.crt'), keyPath: file('server.key') };
}
