package dev.pgferry.cli;

import dev.pgferry.broker.EmbeddedKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Run the embedded single-node Kafka broker (KRaft) on its own, for several pgferry processes on"
                + " one machine without a Kafka installation. Stops on SIGTERM.")
final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = "./.pgferry/broker", description = "Broker data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--port", defaultValue = "9092", description = "Broker port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
    int port;

    @Override
    public Integer call() throws Exception {
        CountDownLatch stop = new CountDownLatch(1);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.toAbsolutePath(), port)) {
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            System.out.println(kafka.bootstrapServers());
            System.err.println("pgferry broker ready: --bootstrap-servers " + kafka.bootstrapServers());
            stop.await();
        }
        return 0;
    }
}
