package dev.pgferry.cli;

import dev.pgferry.broker.EmbeddedKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Run the embedded single-node Kafka broker (KRaft) on its own, for several pgferry processes on"
                + " one machine without a Kafka installation. Stops on SIGTERM.")
final class BrokerCommand implements Callable<Integer> {
    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR + "/broker",
            description = "Broker data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "9092",
            description = "Broker port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
    int port;

    @Override
    public Integer call() throws Exception {
        EmbeddedKafka kafka = EmbeddedKafka.start(dataDir.toAbsolutePath(), port);
        System.out.println(kafka.bootstrapServers());
        System.err.println("pgferry broker ready: --bootstrap-servers " + kafka.bootstrapServers());
        return Daemon.runUntilStopped(kafka);
    }
}
