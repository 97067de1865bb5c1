// Every broker's configuration as the broker itself reports it (DescribeConfigs, resource BROKER).
//
//   node --input-type=module -e "$(cat broker-configs.mjs)" <bootstrap> <key>[,<key>...]
//
// Prints one JSON object: { "<broker id>": { "<key>": "<value>", ... }, ... } for the brokers in
// the cluster metadata.

import { Admin, ConfigResourceTypes } from '@platformatic/kafka';

const [bootstrap, keys] = process.argv.slice(1);
if (!bootstrap || !keys) {
  process.stderr.write('usage: broker-configs <bootstrap> <key>[,<key>...]\n');
  process.exit(2);
}
const admin = new Admin({ clientId: 'e2e-broker-configs', bootstrapBrokers: [bootstrap], retries: 5, retryDelay: 500 });
try {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true });
  const ids = [...metadata.brokers.keys()].sort((a, b) => a - b);
  const described = await admin.describeConfigs({
    resources: ids.map((id) => ({
      resourceType: ConfigResourceTypes.BROKER,
      resourceName: String(id),
      configurationKeys: keys.split(','),
    })),
  });
  const result = {};
  for (const r of described) result[r.resourceName] = Object.fromEntries(r.configs.map((c) => [c.name, c.value]));
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await admin.close();
}
