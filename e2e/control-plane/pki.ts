// The control plane's certificates (openssl): a CA, the API server's serving certificate signed by
// it (SANs: loopback, the advertised address, the first service IP and the kubernetes.default
// names) and the RSA key that signs and verifies service-account tokens.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
}

/** A CA, the API server's serving certificate signed by it, and the service-account signing key. */
export function generatePki(dir: string, o: { serviceIp: string; advertise: string }): Pki {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  };
  fs.writeFileSync(
    p('ca.cnf'),
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = runnel-e2e-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`,
  );
  openssl(
    'req',
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'rsa:2048',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '3650',
    '-config',
    p('ca.cnf'),
    '-extensions',
    'v3_ca',
  );

  const ips = [...new Set(['127.0.0.1', o.serviceIp, o.advertise])];
  const dns = [
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
  ];
  fs.writeFileSync(
    p('apiserver.cnf'),
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = kube-apiserver
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = @alt
[alt]
${dns.map((d, i) => `DNS.${i + 1} = ${d}`).join('\n')}
${ips.map((ip, i) => `IP.${i + 1} = ${ip}`).join('\n')}
`,
  );
  openssl(
    'req',
    '-new',
    '-nodes',
    '-newkey',
    'rsa:2048',
    '-keyout',
    p('apiserver.key'),
    '-out',
    p('apiserver.csr'),
    '-config',
    p('apiserver.cnf'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    p('apiserver.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-set_serial',
    '0x' + randomBytes(8).toString('hex'),
    '-days',
    '3650',
    '-out',
    p('apiserver.crt'),
    '-extfile',
    p('apiserver.cnf'),
    '-extensions',
    'v3',
  );
  // One RSA key both signs service-account tokens (API server, controller manager) and verifies them.
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('sa.key'));
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    saKey: p('sa.key'),
  };
}

export function firstIp(cidr: string): string {
  const [addr, bits] = cidr.split('/');
  const n = addr.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  const mask = bits === '0' ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const ip = ((n & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((s) => (ip >>> s) & 255).join('.');
}
