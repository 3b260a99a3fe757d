// The local Neo4j of nrskg: Neo4j Community 5.26 started in-process, with Bolt (and optionally HTTP + Browser)
// on loopback. graph/server.py compiles this file with `javac --release 17` against the class path that Maven
// resolved once, then runs it detached; nothing here needs Maven or the network.
//
// Usage: java -cp <lib/*>:<classes> Neo4jLauncher --home DIR --bolt-port N --pagecache SIZE --transaction-max SIZE
//            --transaction-total-max SIZE [--http-port N] [--auth]
// With --auth, the initial password of user `neo4j` comes from the environment variable NEO4J_PASSWORD (never from
// the command line, which other users can read in `ps`), and it is never printed.
// LOAD CSV can read no file and no URL: whoever can run Cypher here must not read the machine's files through it
// (e.g. /etc/passwd) nor send the graph's contents to, or fetch from, a network address.
// Transactions are bounded: one may hold at most --transaction-max of heap (db.memory.transaction.max) and all
// together --transaction-total-max (dbms.memory.transaction.total.max), so one greedy reader fails alone.

import inet.ipaddr.IPAddressString;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.SettingValueParsers;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.kernel.api.KernelTransactionHandle;
import org.neo4j.kernel.api.TerminationMark;
import org.neo4j.kernel.api.exceptions.Status;
import org.neo4j.kernel.impl.api.KernelTransactions;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;
import org.neo4j.server.configuration.ServerSettings;

public final class Neo4jLauncher {
    /** graph/server.py waits for a line that starts with this; keep the two in step. */
    static final String READY = "NRSKG-NEO4J READY";

    static final String LOOPBACK = "127.0.0.1";
    static final String INITIAL_USER = "neo4j";
    static final String PASSWORD_ENV = "NEO4J_PASSWORD";

    private Neo4jLauncher() {}

    /** Every IPv4 and IPv6 address: LOAD CSV may fetch from none. */
    static final List<IPAddressString> EVERY_ADDRESS =
            List.of(new IPAddressString("0.0.0.0/0"), new IPAddressString("::/0"));

    public static void main(String[] argv) throws InterruptedException, IOException {
        Map<String, String> args = parse(argv);
        Path home = Path.of(require(args, "--home")).toAbsolutePath();
        // An empty import folder of its own, should file URLs ever be allowed again: never the working directory.
        Path importDir = Files.createDirectories(home.resolve("import"));
        int boltPort = Integer.parseInt(require(args, "--bolt-port"));
        boolean auth = args.containsKey("--auth");

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                // The user log (startup, errors) goes to stdout, which server.py sends to the log file it tails.
                .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(LOOPBACK, boltPort))
                // Advertised to Browser by the HTTP discovery endpoint; the default would be port 7687.
                .setConfig(BoltConnector.advertised_address, new SocketAddress(LOOPBACK, boltPort))
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.allow_file_urls, false)
                .setConfig(GraphDatabaseSettings.load_csv_file_url_root, importDir)
                .setConfig(GraphDatabaseInternalSettings.cypher_ip_blocklist, EVERY_ADDRESS)
                // Netty waits this many quiet seconds per Bolt connector after the store is closed: 5 s by
                // default, twice, which made every stop take ~11 s for nothing.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                // Each transaction's heap allocations, which the heap guard reads (see guardHeap).
                .setConfig(GraphDatabaseInternalSettings.enable_transaction_heap_allocation_tracking, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, bytes(args, "--pagecache"))
                // What Neo4j tracks of a transaction (rows it sorts, collects or writes) is refused past these.
                .setConfig(GraphDatabaseSettings.memory_transaction_max_size, bytes(args, "--transaction-max"))
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size,
                        bytes(args, "--transaction-total-max"));
        String httpPort = args.get("--http-port");
        builder.setConfig(HttpConnector.enabled, httpPort != null);
        if (httpPort != null) {
            // Hospital data: Browser must not phone home (there is usually no route out anyway).
            builder.setConfig(ServerSettings.allow_telemetry, false);
            SocketAddress http = new SocketAddress(LOOPBACK, Integer.parseInt(httpPort));
            builder.setConfig(HttpConnector.listen_address, http).setConfig(HttpConnector.advertised_address, http);
        }

        DatabaseManagementService dbms = builder.build();
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM (and SIGINT) run shutdown hooks: stop the DBMS so the store is closed cleanly, not recovered.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NRSKG-NEO4J stopping");
            dbms.shutdown();
            System.out.println("NRSKG-NEO4J stopped");
            stopped.countDown();
        }, "nrskg-neo4j-shutdown"));

        guardHeap(dbms, bytes(args, "--transaction-max"));
        if (auth) {
            setInitialPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), System.getenv(PASSWORD_ENV));
        }
        System.out.println(READY + " bolt://" + LOOPBACK + ":" + boltPort
                + (httpPort != null ? " http://" + LOOPBACK + ":" + httpPort + "/browser/" : ""));
        stopped.await();
    }

    /** Share of a heap pool in use above which the heap guard looks for a transaction to end. */
    static final double HEAP_GUARD = 0.75;
    static final long HEAP_GUARD_PERIOD_MS = 100;
    /** How long an ended transaction's query may go on allocating before its thread is stopped. */
    static final long STOP_AFTER_NANOS = 1_000_000_000L;

    /**
     * Neo4j's transaction limits cover what it tracks (rows sorted, collected, written), not everything a query
     * allocates: a list comprehension over a huge range fills the heap untracked and never checks whether its
     * transaction was ended; the collector then thrashes, and the OutOfMemoryError strikes whichever thread
     * allocates next, the scheduler's or Bolt's, leaving a server that no longer answers. So when a full
     * collection leaves the heap more than HEAP_GUARD full, the transaction that allocated most (if more than
     * one transaction may hold) is ended as if it had hit a limit, and if its query goes on allocating, its
     * thread gets the OutOfMemoryError itself, which fails that query alone.
     */
    static void guardHeap(DatabaseManagementService dbms, long transactionMax) {
        List<MemoryPoolMXBean> pools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP && p.getUsage().getMax() > 0)
                .toList();
        Thread guard = new Thread(() -> {
            long stopped = -1;
            while (true) {
                KernelTransactionHandle greediest = heapFull(pools) ? greediest(dbms, transactionMax) : null;
                Optional<TerminationMark> ended = greediest == null ? Optional.empty() : greediest.terminationMark();
                if (greediest != null && ended.isEmpty()) {
                    System.gc(); // what a full collection leaves is held, not garbage
                    if (heapFull(pools) && greediest.markForTermination(Status.General.OutOfMemoryError)) {
                        System.out.println("NRSKG-NEO4J heap more than " + (int) (HEAP_GUARD * 100)
                                + "% full: ended " + greediest.getUserTransactionName());
                    }
                } else if (ended.isPresent()
                        && System.nanoTime() - ended.get().getTimestampNanos() > STOP_AFTER_NANOS
                        && greediest.getTransactionSequenceNumber() != stopped) {
                    stopped = greediest.getTransactionSequenceNumber();
                    String why = (Runtime.getRuntime().maxMemory() >> 20) + " MiB, more than "
                            + (int) (HEAP_GUARD * 100) + "% of it held";
                    greediest.executingQuery().ifPresent(q -> stopThread(q.threadExecutingTheQueryName(), why));
                }
                try {
                    Thread.sleep(HEAP_GUARD_PERIOD_MS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "nrskg-heap-guard");
        guard.setDaemon(true);
        guard.start();
    }

    static boolean heapFull(List<MemoryPoolMXBean> pools) {
        return pools.stream().map(MemoryPoolMXBean::getUsage).anyMatch(u -> u.getUsed() > u.getMax() * HEAP_GUARD);
    }

    /** The open transaction, in any database, that allocated most since it began, if more than `floor`. */
    static KernelTransactionHandle greediest(DatabaseManagementService dbms, long floor) {
        KernelTransactionHandle greediest = null;
        long most = floor;
        for (String name : dbms.listDatabases()) {
            try {
                GraphDatabaseAPI db = (GraphDatabaseAPI) dbms.database(name);
                for (KernelTransactionHandle tx :
                        db.getDependencyResolver().resolveDependency(KernelTransactions.class).activeTransactions()) {
                    Long allocated = tx.transactionStatistic().getHeapAllocatedBytes();
                    if (allocated != null && allocated > most && !tx.isClosing()) {
                        greediest = tx;
                        most = allocated;
                    }
                }
            } catch (RuntimeException e) { // a database that is stopping has no transactions to end
            }
        }
        return greediest;
    }

    /**
     * Throws an OutOfMemoryError (`why`) into the thread called `name`, as the heap would have: Neo4j fails that
     * thread's query with Neo.TransientError.General.OutOfMemoryError and keeps its connection. Thread.stop0 is
     * what Thread.stop uses (Java 17); where it is missing the query is left to the heap.
     */
    static void stopThread(String name, String why) {
        ThreadGroup root = Thread.currentThread().getThreadGroup();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        Thread[] threads = new Thread[root.activeCount() + 16];
        for (int i = 0, n = root.enumerate(threads, true); i < n; i++) {
            if (threads[i].getName().equals(name)) {
                System.out.println("NRSKG-NEO4J heap still full: stopping the query in thread " + name);
                try {
                    Method stop = Thread.class.getDeclaredMethod("stop0", Object.class);
                    stop.setAccessible(true);
                    stop.invoke(threads[i], new OutOfMemoryError(why));
                } catch (ReflectiveOperationException | RuntimeException e) {
                    System.out.println("NRSKG-NEO4J could not stop thread " + name + ": " + e);
                }
            }
        }
    }

    /**
     * Sets the password of `neo4j` only while it is still the factory default (change required), so a password
     * changed later, in Browser or with ALTER CURRENT USER, is never overwritten by the environment.
     */
    static void setInitialPassword(GraphDatabaseService system, String password) {
        boolean changeRequired;
        try (Transaction tx = system.beginTx();
                Result rows = tx.execute(
                        "SHOW USERS YIELD user, passwordChangeRequired WHERE user = $user RETURN passwordChangeRequired",
                        Map.of("user", INITIAL_USER))) {
            changeRequired = rows.hasNext() && Boolean.TRUE.equals(rows.next().get("passwordChangeRequired"));
        }
        if (!changeRequired) {
            return;
        }
        if (password == null || password.isEmpty()) {
            System.out.println("NRSKG-NEO4J WARNING auth is on but " + PASSWORD_ENV
                    + " is not set: user neo4j still has the default password and must change it on first login");
            return;
        }
        try (Transaction tx = system.beginTx()) {
            tx.execute("ALTER USER " + INITIAL_USER + " SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password)).close();
            tx.commit();
        }
        System.out.println("NRSKG-NEO4J initial password of user neo4j set from " + PASSWORD_ENV);
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--auth")) {
                args.put("--auth", "true");
            } else if (argv[i].startsWith("--") && i + 1 < argv.length) {
                args.put(argv[i], argv[++i]);
            } else {
                throw new IllegalArgumentException("unexpected argument: " + argv[i]);
            }
        }
        return args;
    }

    static long bytes(Map<String, String> args, String name) {
        return SettingValueParsers.BYTES.parse(require(args, name));
    }

    static String require(Map<String, String> args, String name) {
        String value = args.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing argument " + name);
        }
        return value;
    }
}
