// The failover client of `npm run bench:kafka` (broker/bench/failover.ts): the Java client's
// producer, with its defaults (acks=all, idempotence on, retries until delivery.timeout.ms),
// sending one record to partition 0 of a topic on a fixed schedule, and saying what became of
// every send as soon as it knows. Run in source-file mode, with Kafka's jars on the classpath:
//
//   java -cp <kafka classpath> FailoverProducer.java <bootstrap> <topic> <interval ms> <record bytes> [key=value ...]
//
// One line per outcome on stdout, times in µs since the epoch (Instant.now(), the wall clock
// the benchmark also reads when it kills a broker):
//   A <seq> <sent µs> <acknowledged µs> <offset>
//   E <seq> <sent µs> <failed µs> <error>
// and "STARTED" once the producer exists, "DONE <sent>" at the end. Sending stops when stdin
// closes; then the producer is closed, waiting for every send to settle.

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FailoverProducer {
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(150);
  private static volatile boolean stopping = false;

  private static long nowUs() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    long intervalNs = Math.round(Double.parseDouble(args[2]) * 1_000_000);
    byte[] value = new byte[Integer.parseInt(args[3])];
    Arrays.fill(value, (byte) 'v');
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "runnel-bench-failover");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    for (int i = 4; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    Thread stdin =
        new Thread(
            () -> {
              try (InputStream in = System.in) {
                while (in.read() >= 0) {}
              } catch (Exception ignored) {
                // Closed or broken: either way, stop.
              }
              stopping = true;
            });
    stdin.setDaemon(true);
    stdin.start();

    long sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      synchronized (out) {
        out.println("STARTED");
        out.flush();
      }
      long start = System.nanoTime();
      while (!stopping) {
        long wait = start + sent * intervalNs - System.nanoTime();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
          continue;
        }
        long seq = sent++;
        long sentUs = nowUs();
        producer.send(
            new ProducerRecord<>(topic, 0, null, value),
            (md, e) -> {
              long at = nowUs();
              String line =
                  e == null
                      ? "A " + seq + " " + sentUs + " " + at + " " + md.offset()
                      : "E " + seq + " " + sentUs + " " + at + " " + e.getClass().getSimpleName() + ": " + e.getMessage();
              synchronized (out) {
                out.println(line.replace('\n', ' '));
                out.flush();
              }
            });
      }
      producer.close(CLOSE_TIMEOUT);
    }
    synchronized (out) {
      out.println("DONE " + sent);
      out.flush();
    }
    System.exit(0);
  }
}
