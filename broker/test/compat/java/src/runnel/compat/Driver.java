package runnel.compat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The Java client's side of the compatibility matrix (broker/test/compat/run.ts). One operation
 * per process: {@code java runnel.compat.Driver <op> <task.json>}. It prints one JSON line on
 * stdout with what it observed (the runner compares it with what it expects); the client's own
 * logs go to stderr. Every client uses its defaults except where a task says otherwise: the
 * producer is the default one, which in 4.x is idempotent with acks=all.
 */
public final class Driver {
  private static final Duration POLL = Duration.ofMillis(200);

  public static void main(String[] args) throws Exception {
    String op = args[0];
    @SuppressWarnings("unchecked")
    Map<String, Object> task = args.length > 1 ? (Map<String, Object>) Json.parse(Files.readString(Path.of(args[1]))) : Map.of();
    Map<String, Object> out = new LinkedHashMap<>();
    int code = 0;
    try {
      switch (op) {
        case "version":
          out.put("name", "kafka-clients (Java)");
          out.put("version", AppInfoParser.getVersion());
          out.put("runtime", "Java " + System.getProperty("java.version"));
          break;
        case "produce":
          produce(task, out);
          break;
        case "read":
          read(task, out);
          break;
        case "group":
          group(task, out);
          break;
        case "admin":
          admin(task, out);
          break;
        case "member":
          member(task, out);
          break;
        case "cluster":
          cluster(task, out);
          break;
        case "produce-continuously":
          produceContinuously(task, out);
          break;
        case "reassign":
          reassign(task, out);
          break;
        default:
          throw new IllegalArgumentException("unknown operation " + op);
      }
    } catch (Throwable e) {
      out.put("error", describe(e));
      code = 1;
    }
    System.out.println(Json.write(out));
    System.out.flush();
    // Client threads (the admin's, a stuck network thread) must not keep the process alive.
    System.exit(code);
  }

  private static String describe(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ExecutionException && t.getCause() != null) continue;
      if (b.length() > 0) b.append(" <- ");
      b.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
    }
    return b.toString();
  }

  private static String str(Map<String, Object> m, String k) {
    return (String) m.get(k);
  }

  private static int num(Map<String, Object> m, String k) {
    return ((Number) m.get(k)).intValue();
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> list(Map<String, Object> m, String k) {
    return (List<Map<String, Object>>) m.get(k);
  }

  private static Properties common(Map<String, Object> task) {
    Properties p = new Properties();
    p.put("bootstrap.servers", str(task, "bootstrap"));
    p.put("client.id", "runnel-compat-java");
    return p;
  }

  // ---- produce ----------------------------------------------------------------------------

  @SuppressWarnings("unchecked")
  private static void produce(Map<String, Object> task, Map<String, Object> out) throws Exception {
    Properties p = common(task);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    String compression = str(task, "compression");
    if (compression != null && !compression.equals("none")) p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    String idempotence = str(task, "idempotence");
    if ("on".equals(idempotence)) p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    if ("off".equals(idempotence)) p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
    // Records sent back to back share batches: linger a little so compressed batches hold several.
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    String topic = str(task, "topic");
    List<Map<String, Object>> delivered = new ArrayList<>();
    out.put("delivered", delivered);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      List<Future<RecordMetadata>> futures = new ArrayList<>();
      for (Map<String, Object> r : list(task, "records")) {
        List<Header> headers = new ArrayList<>();
        for (Object h : (List<Object>) r.get("headers")) {
          List<Object> kv = (List<Object>) h;
          headers.add(new RecordHeader((String) kv.get(0), bytes((String) kv.get(1))));
        }
        Long ts = r.get("timestamp") == null ? null : ((Number) r.get("timestamp")).longValue();
        futures.add(producer.send(new ProducerRecord<>(topic, num(r, "partition"), ts, bytes(str(r, "key")), bytes(str(r, "value")), headers)));
      }
      producer.flush();
      for (int i = 0; i < futures.size(); i++) {
        RecordMetadata md = futures.get(i).get();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("index", i);
        d.put("partition", md.partition());
        d.put("offset", md.offset());
        delivered.add(d);
      }
    }
  }

  // ---- produce continuously (replication failover tests) ----------------------------------

  private static final Duration SETTLE = Duration.ofSeconds(60);
  private static final int MAX_ERRORS = 20;

  /**
   * Sends one record every intervalMs (key and value {@code <keyPrefix>-<seq>}, the default
   * partitioner choosing the partition) with the default producer, idempotent with acks=all and
   * its own retries, without waiting for acknowledgments, until stopFile exists or deadlineMs
   * passed. Then it waits (up to SETTLE) for every send to settle and reports each acknowledged
   * record, and how many sends failed: a failed send is an outcome here, not an error of the op.
   * send() itself blocks while the client knows no broker for the topic's metadata (up to
   * max.block.ms, 60 s, e.g. after every broker went away): no record is made meanwhile.
   */
  private static void produceContinuously(Map<String, Object> task, Map<String, Object> out) throws Exception {
    Properties p = common(task);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    String topic = str(task, "topic");
    String prefix = str(task, "keyPrefix");
    Path stop = Path.of(str(task, "stopFile"));
    long deadline = System.currentTimeMillis() + ((Number) task.get("deadlineMs")).longValue();
    long interval = ((Number) task.get("intervalMs")).longValue();
    List<Map<String, Object>> acked = new ArrayList<>();
    AtomicInteger failed = new AtomicInteger();
    Set<String> errors = new LinkedHashSet<>();
    int sent = 0;
    KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
    try {
      while (!Files.exists(stop) && System.currentTimeMillis() <= deadline) {
        String key = prefix + "-" + sent;
        sent++;
        try {
          producer.send(new ProducerRecord<>(topic, bytes(key), bytes(key)), (md, e) -> {
            synchronized (acked) {
              if (e != null) {
                failed.incrementAndGet();
                if (errors.size() < MAX_ERRORS) errors.add(describe(e));
                return;
              }
              Map<String, Object> a = new LinkedHashMap<>();
              a.put("partition", md.partition());
              a.put("offset", md.offset());
              a.put("key", key);
              acked.add(a);
            }
          });
        } catch (RuntimeException e) {
          // Errors the client throws instead of handing to the callback (it is closed, say).
          synchronized (acked) {
            failed.incrementAndGet();
            if (errors.size() < MAX_ERRORS) errors.add(describe(e));
          }
        }
        Thread.sleep(interval);
      }
    } finally {
      // Sends what is still batched and waits up to SETTLE for every outstanding send; sends
      // still unsettled then fail ("closed forcefully"), their callbacks run before close returns.
      producer.close(SETTLE);
    }
    synchronized (acked) {
      acked.sort(Comparator.comparingInt((Map<String, Object> a) -> (Integer) a.get("partition"))
          .thenComparingLong(a -> (Long) a.get("offset")));
      out.put("acked", acked);
      out.put("failed", failed.get());
      out.put("errors", new ArrayList<>(errors));
      out.put("sent", sent);
    }
  }

  private static byte[] bytes(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  private static Map<String, Object> record(ConsumerRecord<byte[], byte[]> r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("partition", r.partition());
    m.put("offset", r.offset());
    m.put("key", text(r.key()));
    m.put("value", text(r.value()));
    List<List<String>> headers = new ArrayList<>();
    for (Header h : r.headers()) headers.add(java.util.Arrays.asList(h.key(), text(h.value())));
    m.put("headers", headers);
    m.put("timestamp", r.timestamp());
    return m;
  }

  private static Properties consumerProps(Map<String, Object> task) {
    Properties p = common(task);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return p;
  }

  // ---- read (assign, no group) ------------------------------------------------------------

  private static void read(Map<String, Object> task, Map<String, Object> out) {
    Properties p = consumerProps(task);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    String topic = str(task, "topic");
    @SuppressWarnings("unchecked")
    List<Number> ends = (List<Number>) task.get("endOffsets");
    long deadline = System.currentTimeMillis() + ((Number) task.get("deadlineMs")).longValue();
    List<Map<String, Object>> records = new ArrayList<>();
    out.put("records", records);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (int i = 0; i < ends.size(); i++) tps.add(new TopicPartition(topic, i));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      int want = ends.stream().mapToInt(Number::intValue).sum();
      while (records.size() < want) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("read " + records.size() + " of " + want + " records before the deadline");
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) records.add(record(r));
      }
    }
  }

  // ---- consumer group ---------------------------------------------------------------------

  private static void group(Map<String, Object> task, Map<String, Object> out) {
    Properties p = consumerProps(task);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, str(task, "groupId"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    String topic = str(task, "topic");
    int want = num(task, "count");
    long deadline = System.currentTimeMillis() + ((Number) task.get("deadlineMs")).longValue();
    List<Map<String, Object>> records = new ArrayList<>();
    out.put("records", records);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(topic));
      while (records.size() < want) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("read " + records.size() + " of " + want + " records before the deadline");
        ConsumerRecords<byte[], byte[]> polled = consumer.poll(POLL);
        for (ConsumerRecord<byte[], byte[]> r : polled) records.add(record(r));
        if (!polled.isEmpty()) consumer.commitSync();
      }
      Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(consumer.assignment());
      Map<String, Object> c = new TreeMap<>();
      committed.forEach((tp, om) -> c.put(String.valueOf(tp.partition()), om == null ? null : om.offset()));
      out.put("committed", c);
    }
  }

  // ---- one member of a group shared with another process -----------------------------------

  private static synchronized void emitAssignment(Collection<TopicPartition> partitions) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("event", "assigned");
    e.put("partitions", partitions.stream().map(TopicPartition::partition).sorted().collect(Collectors.toList()));
    System.out.println(Json.write(e));
    System.out.flush();
  }

  private static void member(Map<String, Object> task, Map<String, Object> out) {
    Properties p = consumerProps(task);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, str(task, "groupId"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Path stop = Path.of(str(task, "stopFile"));
    long deadline = System.currentTimeMillis() + ((Number) task.get("deadlineMs")).longValue();
    List<Map<String, Object>> records = new ArrayList<>();
    out.put("records", records);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(str(task, "topic")), new ConsumerRebalanceListener() {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
          List<TopicPartition> left = new ArrayList<>(consumer.assignment());
          left.removeAll(revoked);
          emitAssignment(left);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
          emitAssignment(consumer.assignment());
        }
      });
      // Every record polled is committed before the next poll, where rebalances happen: a
      // partition handed to the other member resumes exactly after what this one read.
      while (!Files.exists(stop)) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("not told to stop before the deadline; read " + records.size() + " records");
        ConsumerRecords<byte[], byte[]> polled = consumer.poll(POLL);
        for (ConsumerRecord<byte[], byte[]> r : polled) records.add(record(r));
        if (!polled.isEmpty()) consumer.commitSync();
      }
      out.put("assignment", consumer.assignment().stream().map(TopicPartition::partition).sorted().collect(Collectors.toList()));
    }
  }

  // ---- the cluster as DescribeCluster shows it ---------------------------------------------

  private static Map<String, Object> describeCluster(Admin admin) throws Exception {
    DescribeClusterResult c = admin.describeCluster();
    Map<String, Object> cluster = new LinkedHashMap<>();
    cluster.put("clusterId", c.clusterId().get());
    Node controller = c.controller().get();
    cluster.put("controller", controller == null ? null : controller.id());
    List<Map<String, Object>> nodes = new ArrayList<>();
    for (Node n : c.nodes().get()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", n.id());
      m.put("host", n.host());
      m.put("port", n.port());
      nodes.add(m);
    }
    nodes.sort((a, b) -> Integer.compare((Integer) a.get("id"), (Integer) b.get("id")));
    cluster.put("nodes", nodes);
    return cluster;
  }

  private static void cluster(Map<String, Object> task, Map<String, Object> out) throws Exception {
    Properties p = common(task);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
    try (Admin admin = Admin.create(p)) {
      out.put("cluster", describeCluster(admin));
    }
  }

  // ---- admin ------------------------------------------------------------------------------

  private static String errorName(Throwable e) {
    Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
    Errors err = Errors.forException(cause);
    return err == Errors.UNKNOWN_SERVER_ERROR ? describe(cause) : err.name();
  }

  private static Map<String, Object> configs(Config config, List<String> names) {
    Map<String, Object> m = new TreeMap<>();
    for (String name : names) {
      ConfigEntry e = config.get(name);
      m.put(name, e == null ? null : java.util.Arrays.asList(e.value(), e.source().name()));
    }
    return m;
  }

  @SuppressWarnings("unchecked")
  private static void admin(Map<String, Object> task, Map<String, Object> out) throws Exception {
    String topic = str(task, "topic");
    int partitions = num(task, "partitions");
    short rf = (short) num(task, "replicationFactor");
    List<String> topicKeys = (List<String>) task.get("topicConfigKeys");
    List<String> brokerKeys = (List<String>) task.get("brokerConfigKeys");
    Properties p = common(task);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
    try (Admin admin = Admin.create(p)) {
      NewTopic nt = new NewTopic(topic, partitions, rf).configs(Map.of("retention.ms", "86400000"));
      CreateTopicsResult created = admin.createTopics(List.of(nt));
      created.all().get();
      out.put("create", "ok");
      out.put("createdPartitions", created.numPartitions(topic).get());
      try {
        admin.createTopics(List.of(new NewTopic(topic, partitions, rf))).all().get();
        out.put("createAgain", "ok");
      } catch (ExecutionException e) {
        out.put("createAgain", errorName(e));
      }
      out.put("listed", admin.listTopics().names().get().contains(topic));

      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      List<Map<String, Object>> parts = new ArrayList<>();
      for (TopicPartitionInfo pi : d.partitions()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("partition", pi.partition());
        m.put("leader", pi.leader() == null ? null : pi.leader().id());
        m.put("replicas", pi.replicas().stream().map(Node::id).sorted().collect(Collectors.toList()));
        m.put("isr", pi.isr().stream().map(Node::id).sorted().collect(Collectors.toList()));
        parts.add(m);
      }
      parts.sort((a, b) -> Integer.compare((Integer) a.get("partition"), (Integer) b.get("partition")));
      out.put("partitions", parts);

      Map<String, Object> cluster = describeCluster(admin);
      out.put("cluster", cluster);

      ConfigResource tr = new ConfigResource(ConfigResource.Type.TOPIC, topic);
      out.put("topicConfigs", configs(admin.describeConfigs(List.of(tr)).all().get().get(tr), topicKeys));

      // Set one key and remove the override of another: AlterConfigs (full replace) clients do
      // the same by sending only the key they set.
      Map<ConfigResource, Collection<AlterConfigOp>> ops = Map.of(tr, List.of(
          new AlterConfigOp(new ConfigEntry("retention.bytes", "1048576"), AlterConfigOp.OpType.SET),
          new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)));
      admin.incrementalAlterConfigs(ops).all().get();
      out.put("topicConfigsAltered", configs(admin.describeConfigs(List.of(tr)).all().get().get(tr), topicKeys));
      try {
        admin.incrementalAlterConfigs(Map.of(tr, List.of(new AlterConfigOp(new ConfigEntry("retention.bytes", "lots"), AlterConfigOp.OpType.SET)))).all().get();
        out.put("alterInvalid", "ok");
      } catch (ExecutionException e) {
        out.put("alterInvalid", errorName(e));
      }

      ConfigResource br = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(cluster.get("controller")));
      out.put("brokerConfigs", configs(admin.describeConfigs(List.of(br)).all().get().get(br), brokerKeys));

      admin.deleteTopics(List.of(topic)).all().get();
      out.put("delete", "ok");
      out.put("listedAfterDelete", admin.listTopics().names().get().contains(topic));
    }
  }

  // ---- partition reassignment -------------------------------------------------------------

  /**
   * Moves one partition (replicas a list) or cancels its reassignment in flight (replicas null)
   * with alterPartitionReassignments, then polls listPartitionReassignments until the partition
   * is no longer listed or waitMs passed. Reports whether it was ever listed, whether it left
   * the list, and the partition's replicas as describeTopics shows them at the end.
   */
  @SuppressWarnings("unchecked")
  private static void reassign(Map<String, Object> task, Map<String, Object> out) throws Exception {
    String topic = str(task, "topic");
    TopicPartition tp = new TopicPartition(topic, num(task, "partition"));
    List<Number> replicas = (List<Number>) task.get("replicas");
    long deadline = System.currentTimeMillis() + ((Number) task.get("waitMs")).longValue();
    Properties p = common(task);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
    try (Admin admin = Admin.create(p)) {
      Optional<NewPartitionReassignment> target = replicas == null
          ? Optional.empty()
          : Optional.of(new NewPartitionReassignment(replicas.stream().map(Number::intValue).collect(Collectors.toList())));
      admin.alterPartitionReassignments(Map.of(tp, target)).all().get();
      boolean listed = false;
      boolean done = false;
      while (System.currentTimeMillis() <= deadline) {
        if (!admin.listPartitionReassignments(Set.of(tp)).reassignments().get().containsKey(tp)) {
          done = true;
          break;
        }
        listed = true;
        Thread.sleep(POLL.toMillis());
      }
      out.put("listedWhileMoving", listed);
      out.put("done", done);
      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      TopicPartitionInfo info = d.partitions().stream().filter(pi -> pi.partition() == tp.partition()).findFirst().orElseThrow();
      out.put("replicas", info.replicas().stream().map(Node::id).collect(Collectors.toList()));
    }
  }
}
