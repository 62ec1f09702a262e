package dev.pgferry.worker.task;

import dev.pgferry.worker.log.LogContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

class JobPoolTest {

    @AfterEach
    void clear() {
        MDC.clear();
    }

    @Test
    void jobsLogWithTheTasksMigrationAndDatabaseWhicheverThreadHandsThemOver() throws Exception {
        try (JobPool pool = poolOfTask("m-1", "shop")) {
            // handed over by a thread without a log context, as CompletableFuture's delayed executor (a copy's
            // retry) does
            CompletableFuture<Map<String, String>> seen = CompletableFuture.supplyAsync(MDC::getCopyOfContextMap,
                    CompletableFuture.delayedExecutor(10, TimeUnit.MILLISECONDS, pool.executor(JobPool.Kind.COPY)));
            assertThat(seen.get(10, TimeUnit.SECONDS)).containsEntry("migration", "m-1")
                    .containsEntry("database", "shop");
        }
    }

    @Test
    void twoDatabasesPoolsKeepTheirOwnContext() throws Exception {
        try (JobPool shop = poolOfTask("m-1", "shop"); JobPool crm = poolOfTask("m-1", "crm")) {
            assertThat(CompletableFuture.supplyAsync(() -> MDC.get("database"), shop.executor(JobPool.Kind.INDEX))
                    .get(10, TimeUnit.SECONDS)).isEqualTo("shop");
            assertThat(CompletableFuture.supplyAsync(() -> MDC.get("database"), crm.executor(JobPool.Kind.INDEX))
                    .get(10, TimeUnit.SECONDS)).isEqualTo("crm");
        }
    }

    @Test
    void carriedWorkRunsInTheContextItWasMadeInAndGivesTheThreadItsOwnBack() {
        MDC.put("database", "shop");
        AtomicReference<String> seen = new AtomicReference<>();
        Runnable work = LogContext.carried(() -> seen.set(MDC.get("database")));
        MDC.put("database", "crm");

        work.run();

        assertThat(seen.get()).isEqualTo("shop");
        assertThat(MDC.get("database")).isEqualTo("crm");
    }

    /** A pool made, as a task makes it, on a thread whose log context names the task. */
    private static JobPool poolOfTask(String migration, String database) {
        MDC.put("migration", migration);
        MDC.put("database", database);
        try {
            return new JobPool(1, "jobs-" + database);
        } finally {
            MDC.clear();
        }
    }
}
