package dev.pgferry.cli.local;

import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;

/**
 * A small but awkward sample: several databases with tables with and without primary keys, indexes, foreign keys,
 * a view, a materialized view, an advanced sequence, a large object, a partitioned table, a generated column,
 * roles with grants, and quoted mixed-case / unicode / space-, quote- and semicolon-containing names. Used by {@code pgferry demo} and
 * by the integration tests.
 */
public final class SampleData {
    /** The databases {@link #create} makes. */
    public static final List<String> DATABASES = List.of("shop", "Analytics; Ünï \"q\"", "inventory");

    private SampleData() {
    }

    public static void create(LocalPostgres pg, int rows) throws SQLException {
        try (Connection c = connect(pg, "postgres"); Statement s = c.createStatement()) {
            for (String db : DATABASES) {
                s.execute("CREATE DATABASE " + Sql.ident(db));
            }
            s.execute("CREATE ROLE shop_owner NOLOGIN");
            s.execute("CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw-123' CONNECTION LIMIT 7");
            s.execute("GRANT shop_owner TO app_reader");
            s.execute("ALTER ROLE app_reader SET statement_timeout = '5min'");
            s.execute("ALTER DATABASE shop OWNER TO shop_owner");
        }
        try (Connection c = connect(pg, "shop"); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
                    CREATE TABLE public.orders (id bigserial PRIMARY KEY,
                        customer_id int NOT NULL REFERENCES public.customers(id),
                        amount numeric(12,2) NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now(),
                        amount_cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED);
                    CREATE INDEX orders_customer_idx ON public.orders (customer_id);
                    CREATE TABLE public.events_log (at timestamptz, payload jsonb);
                    CREATE VIEW public.big_orders AS SELECT * FROM public.orders WHERE amount > 500;
                    CREATE SEQUENCE public.invoice_seq;
                    CREATE TABLE public.measurements (city int NOT NULL, logdate date NOT NULL, peak int)
                        PARTITION BY RANGE (logdate);
                    CREATE TABLE public.measurements_2025 PARTITION OF public.measurements
                        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
                    CREATE TABLE public.measurements_2026 PARTITION OF public.measurements
                        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
                    CREATE TABLE public.documents (id int PRIMARY KEY, body oid);
                    """);
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO public.customers (name, email)
                    SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, ?) g""")) {
                ps.setInt(1, Math.max(10, rows / 10));
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("""
                    INSERT INTO public.orders (customer_id, amount, note, created_at)
                    SELECT 1 + g % ?, (g * 7 % 1000) + 0.25, CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g || E' \\t\\n''x''' END,
                           timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
                    FROM generate_series(1, ?) g""")) {
                ps.setInt(1, Math.max(10, rows / 10));
                ps.setInt(2, rows);
                ps.executeUpdate();
            }
            s.execute("""
                    INSERT INTO public.events_log SELECT timestamptz '2026-01-01' + g * interval '1 hour',
                        jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 5)) FROM generate_series(1, 200) g;
                    INSERT INTO public.events_log SELECT at, payload FROM public.events_log WHERE (payload->>'n')::int <= 5;
                    INSERT INTO public.measurements SELECT g % 10, date '2025-06-01' + (g % 400), g FROM generate_series(1, 500) g;
                    CREATE MATERIALIZED VIEW public.order_totals AS
                        SELECT customer_id, count(*) AS n, sum(amount) AS total FROM public.orders GROUP BY customer_id;
                    SELECT setval('public.invoice_seq', 42);
                    INSERT INTO public.documents VALUES (1, lo_from_bytea(0, convert_to(repeat('large object ', 5000), 'UTF8')));
                    ALTER TABLE public.orders OWNER TO shop_owner;
                    GRANT SELECT ON public.orders, public.customers TO app_reader;
                    """);
        }
        try (Connection c = connect(pg, DATABASES.get(1)); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE SCHEMA "Reporting Ü";
                    CREATE TABLE "Reporting Ü"."Monthly ""Umsatz"" €" ("Month" date PRIMARY KEY, "Wert;drop" numeric, "ÄÖÜ" text);
                    INSERT INTO "Reporting Ü"."Monthly ""Umsatz"" €"
                        SELECT date '2020-01-01' + g * interval '1 month', g * 1.5, 'zeile ' || g || ' ☃' FROM generate_series(0, 59) g;
                    CREATE TABLE public."MixedCase" ("Id" int PRIMARY KEY, "Value" text);
                    INSERT INTO public."MixedCase" SELECT g, md5(g::text) FROM generate_series(1, 100) g;
                    """);
        }
        try (Connection c = connect(pg, "inventory"); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE public.items (sku text PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0), data bytea);
                    INSERT INTO public.items SELECT 'sku-' || g, g % 50, decode(md5(g::text), 'hex') FROM generate_series(1, 300) g;
                    CREATE TABLE public.audit (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text);
                    INSERT INTO public.audit (what) SELECT 'event ' || g FROM generate_series(1, 25) g;
                    """);
        }
    }

    public static Connection connect(LocalPostgres pg, String dbname) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", pg.password());
        return DriverManager.getConnection(pg.jdbcUrl(dbname), p);
    }
}
