package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.producer.RecordMetadata;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Future;

/**
 * Benchmark (bench/status.sh, not a test): how fast the status view is rebuilt. Writes the history of MIGRATIONS
 * finished migrations (three databases each, 34 events per migration, as a small dump migration writes) and
 * LAG_EVENTS lag events of 100 syncing databases to an embedded broker, then measures, ROUNDS times: the fold alone (events already parsed, and parsed from bytes); a
 * follower reading the whole topic; and a coordinator restarted over the snapshots a previous one wrote, until its
 * view is served. Prints each round and the medians.
 */
public final class StatusReplayBench {
    private StatusReplayBench() {
    }

    public static void main(String[] args) {
        int code = 1;
        try {
            run(args);
            code = 0;
        } catch (Exception e) {
            e.printStackTrace();
        }
        System.exit(code);  // the embedded broker's threads would keep the JVM alive
    }

    private static void run(String[] args) throws Exception {
        int migrations = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int lagEvents = args.length > 2 ? Integer.parseInt(args[2]) : 1_000_000;
        List<byte[]> history = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < migrations; i++) {
            String id = "m-bench-" + i;
            history.add(Json.write(new EventSource(id, null, "coordinator", 1, Clock.systemUTC()).planned(List.of("a", "b", "c"))));
            keys.add(id);
            for (String db : List.of("a", "b", "c")) {
                EventSource e = new EventSource(id, db, "w-1", 1, Clock.systemUTC());
                List<StatusEvent> events = new ArrayList<>(List.of(e.started(Method.DUMP, null)));
                for (Phase p : Phase.values()) {
                    events.add(e.phase(p));
                }
                events.add(e.progress(0, 4, 0, 0));
                events.add(e.progress(4, 4, 4000, 1_000_000));
                events.add(e.warning("role x: password not copied"));
                events.add(e.done(Method.DUMP));
                events.forEach(ev -> {
                    history.add(Json.write(ev));
                    keys.add(id);
                });
            }
        }
        // Then 100 databases syncing for a long time: one lag event per database per tick (a day of 10 s ticks is
        // 8,640), the kind of history that made every start slower.
        for (int i = 0; i < 100; i++) {
            String id = "m-bench-sync-" + i;
            history.add(Json.write(new EventSource(id, null, "coordinator", 1, Clock.systemUTC()).planned(List.of("a"))));
            history.add(Json.write(new EventSource(id, "a", "w-1", 1, Clock.systemUTC()).syncing()));
            keys.add(id);
            keys.add(id);
        }
        for (int i = 0; i < lagEvents; i++) {
            String id = "m-bench-sync-" + (i % 100);
            history.add(Json.write(new EventSource(id, "a", "coordinator", 1, Clock.systemUTC()).lag(i)));
            keys.add(id);
        }
        int events = history.size();
        System.out.printf("status bench: %d finished migrations, 100 syncing databases, %d events, %.1f MB%n", migrations, events,
                history.stream().mapToLong(b -> b.length).sum() / 1e6);

        List<StatusEvent> parsed = history.stream().map(Json::readEvent).toList();
        double[] foldOnly = new double[rounds];
        double[] parseAndFold = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            StatusFold fold = new StatusFold();
            long t0 = System.nanoTime();
            for (int i = 0; i < events; i++) {
                fold.apply(parsed.get(i), 0, i);
            }
            foldOnly[r] = events / seconds(t0);
            StatusFold fold2 = new StatusFold();
            t0 = System.nanoTime();
            for (int i = 0; i < events; i++) {
                fold2.apply(Json.readEvent(history.get(i)), 0, i);
            }
            parseAndFold[r] = events / seconds(t0);
            System.out.printf("round %d: fold %.0f events/s, parse+fold %.0f events/s%n", r + 1, foldOnly[r], parseAndFold[r]);
        }

        String kafka = Infra.kafka();
        try (Bus bus = new Bus(kafka, "bench-status")) {
            bus.ensureTopics();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < events; i++) {
                sent.add(bus.sendAsync(Topics.STATUS, keys.get(i), history.get(i)));
                if (sent.size() == 100_000) {
                    for (Future<RecordMetadata> f : sent) {
                        f.get();
                    }
                    sent.clear();
                }
            }
            for (Future<RecordMetadata> f : sent) {
                f.get();
            }
        }
        // The first coordinator reads the whole topic and writes the snapshots on close.
        try (Coordinator c = Coordinator.start(kafka, "127.0.0.1", -1)) {
            c.follower().awaitCaughtUp(Duration.ofMinutes(5));
        }
        double[] fullReplay = new double[rounds];
        double[] fullRate = new double[rounds];
        double[] restart = new double[rounds];
        long[] read = new long[rounds];
        for (int r = 0; r < rounds; r++) {
            try (Bus bus = new Bus(kafka, "bench-status-full")) {
                StatusFold fold = new StatusFold();
                long t0 = System.nanoTime();
                try (StatusFollower f = new StatusFollower(bus, fold, "bench-full", false).start()) {
                    f.awaitCaughtUp(Duration.ofMinutes(5));
                    fullReplay[r] = seconds(t0);
                    fullRate[r] = f.eventsRead() / fullReplay[r];
                }
            }
            long t0 = System.nanoTime();
            try (Coordinator c = Coordinator.start(kafka, "127.0.0.1", -1)) {
                c.follower().awaitCaughtUp(Duration.ofMinutes(5));
                restart[r] = seconds(t0);
                read[r] = c.follower().eventsRead();
                if (c.fold().view("m-bench-" + (migrations - 1)).isEmpty()) {
                    throw new IllegalStateException("the restarted coordinator does not show the last migration");
                }
            }
            System.out.printf("round %d: whole topic %.2f s (%.0f events/s); coordinator restart over snapshots %.2f s"
                    + " (%d events read)%n", r + 1, fullReplay[r], fullRate[r], restart[r], read[r]);
        }
        System.out.printf("median: fold %.0f events/s, parse+fold %.0f events/s, whole topic %.2f s (%.0f events/s),"
                        + " restart over snapshots %.2f s%n", median(foldOnly), median(parseAndFold), median(fullReplay),
                median(fullRate), median(restart));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
