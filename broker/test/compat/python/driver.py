"""confluent-kafka (librdkafka) for Python: its side of the compatibility matrix.

Run by broker/test/compat/run.ts in a venv it manages: ``python driver.py <op> <task.json>``.
Prints one JSON line on stdout with what it observed; the runner compares it with what it
expects. Client settings are the defaults except where a task says otherwise.
"""

import json
import os
import sys
import time

import confluent_kafka
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)

CLIENT_ID = "runnel-compat-python"
TIMEOUT_S = 20


def common(task):
    return {"bootstrap.servers": task["bootstrap"], "client.id": CLIENT_ID}


def text(b):
    return None if b is None else b.decode("utf-8")


def record(m):
    return {
        "partition": m.partition(),
        "offset": m.offset(),
        "key": text(m.key()),
        "value": text(m.value()),
        "headers": [[k, text(v)] for k, v in (m.headers() or [])],
        "timestamp": m.timestamp()[1],
    }


def version(task, out):
    out["name"] = "confluent-kafka (Python)"
    out["version"] = confluent_kafka.__version__
    out["runtime"] = "librdkafka " + confluent_kafka.libversion()[0] + ", Python " + sys.version.split()[0]


def produce(task, out):
    conf = common(task)
    conf["linger.ms"] = 20
    if task.get("compression") not in (None, "none"):
        conf["compression.type"] = task["compression"]
    if task.get("idempotence") == "on":
        conf["enable.idempotence"] = True
    elif task.get("idempotence") == "off":
        conf["enable.idempotence"] = False
    records = task["records"]
    delivered = [None] * len(records)
    errors = []
    out["delivered"] = delivered
    producer = Producer(conf)

    def on_delivery(index):
        def cb(err, msg):
            if err is not None:
                errors.append(f"record {index}: {err.name()}: {err.str()}")
            else:
                delivered[index] = {"index": index, "partition": msg.partition(), "offset": msg.offset()}

        return cb

    for i, r in enumerate(records):
        kwargs = dict(
            topic=task["topic"],
            key=r["key"].encode(),
            value=r["value"].encode(),
            partition=r["partition"],
            headers=[(k, v.encode()) for k, v in r["headers"]],
            on_delivery=on_delivery(i),
        )
        if r.get("timestamp") is not None:
            kwargs["timestamp"] = r["timestamp"]
        producer.produce(**kwargs)
        producer.poll(0)
    left = producer.flush(TIMEOUT_S)
    if left:
        raise RuntimeError(f"{left} records not delivered within {TIMEOUT_S} s")
    if errors:
        raise RuntimeError("; ".join(errors[:5]))


def read(task, out):
    conf = common(task)
    # librdkafka wants a group id even for assign(); nothing is committed or joined.
    conf.update({"group.id": "runnel-compat-unused", "enable.auto.commit": False, "enable.auto.offset.store": False})
    consumer = Consumer(conf)
    ends = task["endOffsets"]
    want = sum(ends)
    records = []
    out["records"] = records
    deadline = time.monotonic() + task["deadlineMs"] / 1000
    try:
        consumer.assign([TopicPartition(task["topic"], p, confluent_kafka.OFFSET_BEGINNING) for p in range(len(ends))])
        while len(records) < want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"read {len(records)} of {want} records before the deadline")
            m = consumer.poll(0.2)
            if m is None:
                continue
            if m.error():
                raise KafkaException(m.error())
            records.append(record(m))
    finally:
        consumer.close()


def group(task, out):
    conf = common(task)
    conf.update({"group.id": task["groupId"], "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer = Consumer(conf)
    want = task["count"]
    records = []
    out["records"] = records
    deadline = time.monotonic() + task["deadlineMs"] / 1000
    try:
        consumer.subscribe([task["topic"]])
        while len(records) < want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"read {len(records)} of {want} records before the deadline")
            batch = consumer.consume(num_messages=100, timeout=0.2)
            for m in batch:
                if m.error():
                    raise KafkaException(m.error())
                records.append(record(m))
            if batch:
                consumer.commit(asynchronous=False)
        committed = consumer.committed(consumer.assignment(), timeout=TIMEOUT_S)
        out["committed"] = {str(tp.partition): tp.offset for tp in sorted(committed, key=lambda t: t.partition)}
    finally:
        consumer.close()


def emit_assignment(partitions):
    line = json.dumps({"event": "assigned", "partitions": sorted(tp.partition for tp in partitions)})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def member(task, out):
    conf = common(task)
    conf.update({"group.id": task["groupId"], "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer = Consumer(conf)
    records = []
    out["records"] = records
    deadline = time.monotonic() + task["deadlineMs"] / 1000
    owned = set()

    def on_assign(c, partitions):
        owned.clear()
        owned.update(tp.partition for tp in partitions)
        emit_assignment(partitions)

    def on_revoke(c, partitions):
        owned.difference_update(tp.partition for tp in partitions)
        emit_assignment([tp for tp in c.assignment() if tp.partition in owned])

    try:
        consumer.subscribe([task["topic"]], on_assign=on_assign, on_revoke=on_revoke)
        # Every record consumed is committed before the next consume, where rebalances happen.
        while not os.path.exists(task["stopFile"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"not told to stop before the deadline; read {len(records)} records")
            batch = consumer.consume(num_messages=100, timeout=0.2)
            for m in batch:
                if m.error():
                    raise KafkaException(m.error())
                records.append(record(m))
            if batch:
                consumer.commit(asynchronous=False)
        out["assignment"] = sorted(tp.partition for tp in consumer.assignment())
    finally:
        consumer.close()


def error_name(e):
    err = e.args[0] if e.args else None
    if isinstance(err, KafkaError):
        return err.name()
    return f"{type(e).__name__}: {e}"


def configs(entries, keys):
    return {k: ([entries[k].value, ConfigSource(entries[k].source).name] if k in entries else None) for k in keys}


def admin(task, out):
    topic = task["topic"]
    admin = AdminClient(common(task))
    new = NewTopic(topic, num_partitions=task["partitions"], replication_factor=task["replicationFactor"], config={"retention.ms": "86400000"})
    admin.create_topics([new], request_timeout=TIMEOUT_S)[topic].result()
    out["create"] = "ok"
    md = admin.list_topics(topic=topic, timeout=TIMEOUT_S)
    out["createdPartitions"] = len(md.topics[topic].partitions)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=task["partitions"], replication_factor=task["replicationFactor"])], request_timeout=TIMEOUT_S)[topic].result()
        out["createAgain"] = "ok"
    except KafkaException as e:
        out["createAgain"] = error_name(e)
    out["listed"] = topic in admin.list_topics(timeout=TIMEOUT_S).topics

    d = admin.describe_topics(TopicCollection([topic]), request_timeout=TIMEOUT_S)[topic].result()
    out["partitions"] = sorted(
        (
            {
                "partition": p.id,
                "leader": p.leader.id if p.leader is not None else None,
                "replicas": sorted(n.id for n in p.replicas),
                "isr": sorted(n.id for n in p.isr),
            }
            for p in d.partitions
        ),
        key=lambda p: p["partition"],
    )

    c = admin.describe_cluster(request_timeout=TIMEOUT_S).result()
    out["cluster"] = {
        "clusterId": c.cluster_id,
        "controller": c.controller.id if c.controller is not None else None,
        "nodes": sorted(({"id": n.id, "host": n.host, "port": n.port} for n in c.nodes), key=lambda n: n["id"]),
    }

    tr = ConfigResource(ResourceType.TOPIC, topic)
    out["topicConfigs"] = configs(admin.describe_configs([tr], request_timeout=TIMEOUT_S)[tr].result(), task["topicConfigKeys"])
    alter = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    list(admin.incremental_alter_configs([alter], request_timeout=TIMEOUT_S).values())[0].result()
    out["topicConfigsAltered"] = configs(admin.describe_configs([tr], request_timeout=TIMEOUT_S)[tr].result(), task["topicConfigKeys"])
    bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[ConfigEntry("retention.bytes", "lots", incremental_operation=AlterConfigOpType.SET)])
    try:
        list(admin.incremental_alter_configs([bad], request_timeout=TIMEOUT_S).values())[0].result()
        out["alterInvalid"] = "ok"
    except KafkaException as e:
        out["alterInvalid"] = error_name(e)

    br = ConfigResource(ResourceType.BROKER, str(out["cluster"]["controller"]))
    out["brokerConfigs"] = configs(admin.describe_configs([br], request_timeout=TIMEOUT_S)[br].result(), task["brokerConfigKeys"])

    admin.delete_topics([topic], request_timeout=TIMEOUT_S)[topic].result()
    out["delete"] = "ok"
    out["listedAfterDelete"] = topic in admin.list_topics(timeout=TIMEOUT_S).topics


def cluster(task, out):
    """The cluster as the client's Metadata shows it: id, controller, brokers."""
    md = AdminClient(common(task)).list_topics(timeout=TIMEOUT_S)
    out["cluster"] = {
        "clusterId": md.cluster_id,
        "controller": md.controller_id if md.controller_id >= 0 else None,
        "nodes": sorted(({"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()), key=lambda n: n["id"]),
    }


OPS = {"version": version, "produce": produce, "read": read, "group": group, "member": member, "admin": admin, "cluster": cluster}


def main():
    op = sys.argv[1]
    task = json.load(open(sys.argv[2], encoding="utf-8")) if len(sys.argv) > 2 else {}
    out = {}
    code = 0
    try:
        OPS[op](task, out)
    except Exception as e:  # reported to the runner, which prints it in the table
        out["error"] = f"{type(e).__name__}: {e}"
        code = 1
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
