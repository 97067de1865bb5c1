// Pod features the operator relies on, as a kubelet provides them: init containers (in order, each
// to completion, retried with back-off or failing the pod under restartPolicy Never, reported in
// initContainerStatuses and the Initialized condition), env from fieldRef/envFrom and $(VAR)
// expansion in init containers as in containers, and the Node's kubelet labels. Locally this
// checks the node agent; on an existing cluster (kind) the same assertions hold for a real
// kubelet, which is what keeps the agent honest. The pods run the broker image with a command
// (it has /bin/sh and node).

import type { V1EnvFromSource, V1EnvVar } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually, isReady, useEnv, type Env, type List, type NodeObject, type Pod } from './env.js';

const WORK = '/run/e2e-work';

/** A pod whose init containers and container share an emptyDir at WORK. */
function pod(
  env: Env,
  name: string,
  restartPolicy: string,
  initContainers: { name: string; script: string; env?: V1EnvVar[]; envFrom?: V1EnvFromSource[] }[],
): object {
  // The container serves WORK over HTTP, and is ready once the init containers left WORK/ready.
  const server = `const fs = require('fs'); fs.appendFileSync('${WORK}/order', 'main\\n');
require('http').createServer((q, s) => { try { s.end(fs.readFileSync('${WORK}' + q.url)); } catch { s.statusCode = 404; s.end(); } }).listen(8080);`;
  const mounts = [{ name: 'work', mountPath: WORK }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: env.namespace },
    spec: {
      restartPolicy,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: initContainers.map((c) => ({
        image: env.brokerImage,
        command: ['/bin/sh', '-c'],
        args: [c.script],
        volumeMounts: mounts,
        name: c.name,
        env: c.env,
        envFrom: c.envFrom,
      })),
      containers: [
        {
          name: 'main',
          image: env.brokerImage,
          command: ['node', '-e', server],
          volumeMounts: mounts,
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
        },
      ],
    },
  };
}

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

describe('pods as a kubelet runs them', () => {
  const env = useEnv({ namespace: 'e2e-pods' });
  const get = (name: string) => env.json<Pod>(['pod', name, '-n', env.namespace]);
  const fetchFrom = async (p: Pod, file: string) => {
    const r = await env.nodeRun('http-get.mjs', [`http://${p.status!.podIP}:8080/${file}`]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  it('starts four pods with init containers', async () => {
    await env.k(['create', 'configmap', 'init-env', '-n', env.namespace, '--from-literal=GREETING=hello']);
    const pods = [
      pod(env, 'init-order', 'Always', [
        {
          name: 'first',
          // $(GREETING) is expanded by the kubelet (from envFrom); $$ escapes a literal $.
          script: `echo first >> ${WORK}/order && echo "node=$NODE_NAME sa=$SA pod=$POD_IP host=$HOST_IP greeting=$(GREETING)" 'cost=$$5' > ${WORK}/env`,
          env: [
            fieldEnv('NODE_NAME', 'spec.nodeName'),
            fieldEnv('SA', 'spec.serviceAccountName'),
            fieldEnv('POD_IP', 'status.podIP'),
            fieldEnv('HOST_IP', 'status.hostIP'),
          ],
          envFrom: [{ configMapRef: { name: 'init-env' } }],
        },
        {
          name: 'second',
          script: `test "$(cat ${WORK}/order)" = first && echo second >> ${WORK}/order && touch ${WORK}/ready`,
        },
      ]),
      // Fails twice, then succeeds: retried, and the pod goes on.
      pod(env, 'init-retry', 'Always', [
        {
          name: 'flaky',
          script: `n=$(cat ${WORK}/tries 2>/dev/null || echo 0); echo $((n+1)) > ${WORK}/tries; [ "$n" -ge 2 ] || exit 3; touch ${WORK}/ready`,
        },
      ]),
      pod(env, 'init-stuck', 'OnFailure', [{ name: 'failing', script: 'exit 3' }]),
      pod(env, 'init-never', 'Never', [{ name: 'failing', script: 'exit 3' }]),
    ];
    await env.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
  });

  it('runs init containers in order, each to completion, with env and volumes, before the container', async () => {
    const p = await eventually(
      'init-order Ready',
      async () => {
        const q = await get('init-order');
        return q && isReady(q) ? q : undefined;
      },
      180_000,
    );
    expect(await fetchFrom(p, 'order')).toBe('first\nsecond\nmain\n');
    expect((await fetchFrom(p, 'env')).trim()).toBe(
      `node=${p.spec.nodeName} sa=default pod=${p.status!.podIP} host=${p.status!.hostIP} greeting=hello cost=$5`,
    );
    expect(p.status!.phase).toBe('Running');
    expect(p.status!.conditions!.find((c) => c.type === 'Initialized')!.status).toBe('True');
    expect(
      p.status!.initContainerStatuses!.map((s) => [
        s.name,
        s.ready,
        s.restartCount,
        s.state!.terminated?.exitCode,
        s.state!.terminated?.reason,
      ]),
    ).toEqual([
      ['first', true, 0, 0, 'Completed'],
      ['second', true, 0, 0, 'Completed'],
    ]);
  });

  it('retries a failing init container with back-off under restartPolicy Always', async () => {
    const p = await eventually(
      'init-retry Ready',
      async () => {
        const q = await get('init-retry');
        return q && isReady(q) ? q : undefined;
      },
      180_000,
    );
    const [flaky] = p.status!.initContainerStatuses!;
    expect(flaky.restartCount).toBe(2);
    expect(flaky.lastState!.terminated!.exitCode).toBe(3);
    expect(flaky.state!.terminated!.exitCode).toBe(0);
    expect(await fetchFrom(p, 'tries')).toBe('3\n');
  });

  it('keeps the pod Pending, initializing, while its init container keeps failing', async () => {
    const p = await eventually(
      'a restarted init container',
      async () => {
        const q = await get('init-stuck');
        return (q?.status?.initContainerStatuses?.[0]?.restartCount ?? 0) >= 1 ? q : undefined;
      },
      120_000,
    );
    expect(p.status!.phase).toBe('Pending');
    expect(p.status!.conditions!.find((c) => c.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
    });
    expect(p.status!.initContainerStatuses![0].lastState!.terminated!.exitCode).toBe(3);
    expect(p.status!.containerStatuses![0].state!.waiting!.reason).toBe('PodInitializing');
    // kubectl's STATUS column (Init:0/1 while an attempt runs).
    await eventually('STATUS Init:CrashLoopBackOff', async () =>
      /\sInit:(CrashLoopBackOff|Error)\s/.test(
        await env.k(['get', 'pod', 'init-stuck', '-n', env.namespace, '--no-headers']),
      ),
    );
  });

  it('fails the pod when an init container fails under restartPolicy Never', async () => {
    const p = await eventually(
      'init-never Failed',
      async () => {
        const q = await get('init-never');
        return q?.status?.phase === 'Failed' ? q : undefined;
      },
      120_000,
    );
    const [failing] = p.status!.initContainerStatuses!;
    expect([failing.restartCount, failing.state!.terminated!.exitCode, failing.state!.terminated!.reason]).toEqual([
      0,
      3,
      'Error',
    ]);
    expect(p.status!.containerStatuses![0].state!.waiting?.reason).toBe('PodInitializing');
    expect(p.status!.conditions!.find((c) => c.type === 'Initialized')!.status).toBe('False');
  });

  it('labels its Node as a kubelet does, and keeps labels added with kubectl', async () => {
    const nodes = (await env.json<List<NodeObject>>(['nodes']))!.items;
    expect(nodes.length).toBeGreaterThan(0);
    for (const n of nodes) {
      expect(n.metadata.labels!['kubernetes.io/hostname']).toBe(n.metadata.name);
      expect(n.metadata.labels!['kubernetes.io/os']).toBe('linux');
      expect(n.metadata.labels!['kubernetes.io/arch']).toBe(n.status!.nodeInfo!.architecture);
    }
    const name = (await get('init-order'))!.spec.nodeName!;
    const node = nodes.find((n) => n.metadata.name === name)!;
    const zone = node.metadata.labels!['topology.kubernetes.io/zone'];
    await env.k(['label', 'node', name, '--overwrite', 'topology.kubernetes.io/zone=e2e-zone-a']);
    try {
      expect((await env.json<NodeObject>(['node', name]))!.metadata.labels!['topology.kubernetes.io/zone']).toBe(
        'e2e-zone-a',
      );
    } finally {
      await env.k([
        'label',
        'node',
        name,
        '--overwrite',
        zone ? `topology.kubernetes.io/zone=${zone}` : 'topology.kubernetes.io/zone-',
      ]);
    }
  });
});
