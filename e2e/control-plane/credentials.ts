// Who the control plane's components and the tests are: a static token file (the admin in
// system:masters, and one identity per component so each runs under its bootstrap RBAC role) and
// token-authenticated kubeconfigs.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

export interface Identity {
  user: string;
  /** Groups beyond the ones the API server adds (system:authenticated). */
  groups?: string[];
  token: string;
}

export function newToken(): string {
  return randomBytes(24).toString('hex');
}

/** The API server's --token-auth-file: token,user,uid,"group1,group2". */
export function writeTokenFile(file: string, identities: Identity[]): void {
  const line = (i: Identity) =>
    [
      i.token,
      i.user,
      `uid-${i.user.replace(/^system:/, '')}`,
      ...(i.groups?.length ? [`"${i.groups.join(',')}"`] : []),
    ].join(',');
  fs.writeFileSync(file, [...identities.map(line), ''].join('\n'), { mode: 0o600 });
}

export function writeKubeconfig(file: string, server: string, ca: Buffer, user: string, token: string): void {
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: runnel-e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${ca.toString('base64')}
users:
- name: ${JSON.stringify(user)}
  user:
    token: ${token}
contexts:
- name: runnel-e2e
  context:
    cluster: runnel-e2e
    user: ${JSON.stringify(user)}
    namespace: default
current-context: runnel-e2e
`;
  fs.writeFileSync(file, yaml, { mode: 0o600 });
}
