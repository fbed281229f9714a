package dev.topo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts an in-process Neo4j Community server for tests: Bolt on 127.0.0.1, no auth, no HTTP.
 * Prints "bolt://127.0.0.1:PORT" once ready and runs until the JVM is told to stop (SIGTERM).
 *
 * Port: first argument, else $TOPO_NEO4J_PORT, else 0 (a free port chosen by the server).
 * Data: a fresh folder under $TOPO_NEO4J_DATA_DIR, else under a new temp dir; deleted at exit.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        String portArg = args.length > 0 ? args[0] : System.getenv("TOPO_NEO4J_PORT");
        int port = portArg == null || portArg.isBlank() ? 0 : Integer.parseInt(portArg.trim());
        String dataEnv = System.getenv("TOPO_NEO4J_DATA_DIR");
        boolean ownBase = dataEnv == null || dataEnv.isBlank();
        Path base = ownBase ? Files.createTempDirectory("topo-neo4j-") : Files.createDirectories(Path.of(dataEnv));

        // The harness works in a random subfolder of `base` and deletes it on close().
        Neo4j neo4j;
        try {
            neo4j = Neo4jBuilders.newInProcessBuilder(base)
                .withDisabledServer() // server.http.enabled=false, server.https.enabled=false
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, 128L << 20)
                .withConfig(GraphDatabaseSettings.memory_transaction_global_max_size, 512L << 20)
                .withConfig(GraphDatabaseSettings.udc_enabled, false)
                // Bolt's Netty loops otherwise wait a 5 s quiet period each (~10 s to stop).
                .withConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();
        } catch (RuntimeException e) { // e.g. port in use
            if (ownBase) deleteTree(base);
            throw e;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                neo4j.close();
                if (ownBase) deleteTree(base);
            } finally {
                stopped.countDown();
            }
        }, "topo-neo4j-shutdown"));

        System.out.println("bolt://127.0.0.1:" + neo4j.boltURI().getPort());
        System.out.flush();
        stopped.await(); // block until the shutdown hook has run
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: it is a temp dir
        }
    }
}
