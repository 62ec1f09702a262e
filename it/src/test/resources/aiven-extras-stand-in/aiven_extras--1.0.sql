-- pgferry's stand-in for aiven_extras' publication and subscription functions (see aiven_extras.control).
-- Trusted: created by a database owner, its objects belong to the bootstrap superuser, so these SECURITY DEFINER
-- functions run as a superuser, as Aiven's do.

GRANT USAGE ON SCHEMA aiven_extras TO PUBLIC;

CREATE FUNCTION aiven_extras.pg_create_publication(arg_publication_name TEXT, arg_publish TEXT,
                                                   VARIADIC arg_tables TEXT[] DEFAULT ARRAY[]::TEXT[])
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    l_list TEXT := '';
    l_ident TEXT;
BEGIN
    FOREACH l_ident IN ARRAY arg_tables LOOP
        l_list := l_list || CASE WHEN l_list = '' THEN '' ELSE ', ' END
            || (SELECT string_agg(quote_ident(part), '.' ORDER BY n) FROM unnest(parse_ident(l_ident)) WITH ORDINALITY AS p(part, n));
    END LOOP;
    IF l_list = '' THEN
        EXECUTE format('CREATE PUBLICATION %I WITH (publish = %L)', arg_publication_name, arg_publish);
    ELSE
        EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s WITH (publish = %L)', arg_publication_name, l_list, arg_publish);
    END IF;
    EXECUTE format('ALTER PUBLICATION %I OWNER TO %I', arg_publication_name, session_user);
END;
$$;

-- Without dblink here: creating the slot (arg_slot_create) is refused, as pgferry creates its slot itself.
CREATE FUNCTION aiven_extras.pg_create_subscription(arg_subscription_name TEXT, arg_connection_string TEXT,
                                                    arg_publication_name TEXT, arg_slot_name TEXT,
                                                    arg_slot_create BOOLEAN = FALSE, arg_copy_data BOOLEAN = TRUE,
                                                    arg_origin TEXT = 'any')
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    IF arg_slot_create THEN
        RAISE EXCEPTION 'this aiven_extras stand-in cannot create slots (Aiven''s does, through dblink)';
    END IF;
    EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (slot_name = %L, create_slot = false, copy_data = %s)',
                   arg_subscription_name, arg_connection_string, arg_publication_name, arg_slot_name, arg_copy_data::TEXT);
END;
$$;

CREATE FUNCTION aiven_extras.pg_drop_subscription(arg_subscription_name TEXT, arg_drop_repl_slot BOOLEAN = TRUE)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = arg_subscription_name) THEN
        RAISE EXCEPTION 'No subscription found for name: %', arg_subscription_name;
    END IF;
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', arg_subscription_name);
    EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', arg_subscription_name);
    EXECUTE format('DROP SUBSCRIPTION %I', arg_subscription_name);
    -- Aiven's drops the slot on the source through dblink when arg_drop_repl_slot; pgferry drops it itself.
END;
$$;

CREATE FUNCTION aiven_extras.pg_alter_subscription_disable(arg_subscription_name TEXT)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', arg_subscription_name);
END;
$$;

CREATE FUNCTION aiven_extras.pg_alter_subscription_enable(arg_subscription_name TEXT)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', arg_subscription_name);
END;
$$;

-- ALTER SUBSCRIPTION ... REFRESH PUBLICATION refuses to run inside a function. Aiven's runs it in the calling backend
-- from C; this stand-in, in SQL only, runs it over a dblink loopback as the bootstrap superuser (as Aiven's did before
-- its C version), which needs a local socket connection for that superuser without a password (the test adds a peer
-- line to pg_hba.conf). dblink's C function is declared here, so the dblink extension is not needed.
CREATE FUNCTION aiven_extras.loopback_exec(TEXT, TEXT) RETURNS TEXT LANGUAGE c STRICT AS '$libdir/dblink', 'dblink_exec';
REVOKE EXECUTE ON FUNCTION aiven_extras.loopback_exec(TEXT, TEXT) FROM PUBLIC;

CREATE FUNCTION aiven_extras.pg_alter_subscription_refresh_publication(arg_subscription_name TEXT,
                                                                       arg_copy_data BOOLEAN = TRUE)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    IF arg_subscription_name IS NULL OR arg_copy_data IS NULL THEN
        RAISE EXCEPTION 'arg_subscription_name and arg_copy_data must not be NULL';
    END IF;
    PERFORM aiven_extras.loopback_exec(
        format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), quote_literal(current_database()), current_user),
        format('ALTER SUBSCRIPTION %I REFRESH PUBLICATION WITH (copy_data = %s)', arg_subscription_name,
               arg_copy_data::TEXT));
END;
$$;
