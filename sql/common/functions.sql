-- Functions both central and the store nodes have. Replaceable like the others: CREATE OR REPLACE only.

-- Error text safe to store and show: no connection options, no password.
CREATE OR REPLACE FUNCTION redact_secrets(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(regexp_replace(coalesce(p_text, ''), '(password|passwd|pwd)\s*[=:]\s*\S+', '\1=***', 'gi'), 500)
$$;

-- Creates or updates the dblink foreign server `p_server` and the current role's user mapping for it
-- (values quoted by format(), never concatenated).
CREATE OR REPLACE FUNCTION define_dblink_server(p_server text, p_host text, p_port integer, p_dbname text,
                                                p_user text, p_password text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = p_server) THEN
        EXECUTE format('ALTER SERVER %I OPTIONS (SET host %L, SET port %L, SET dbname %L)',
                       p_server, p_host, p_port::text, p_dbname);
        EXECUTE format('ALTER USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (SET user %L, SET password %L)',
                       p_server, p_user, p_password);
        RETURN;
    END IF;
    EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host %L, port %L, dbname %L, '
                   'connect_timeout %L, keepalives_idle %L, application_name %L)',
                   p_server, p_host, p_port::text, p_dbname, '2', '30', 'pos-replication');
    EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (user %L, password %L)',
                   p_server, p_user, p_password);
END;
$$;

-- Sets the TLS of the dblink foreign server p_server, as libpq takes it: sslmode (disable, prefer,
-- require, verify-ca, verify-full; NULL: libpq's default, prefer) and sslrootcert (the CA certificates,
-- a PEM file on this database server's machine, read by its OS user; NULL: libpq's default,
-- ~/.postgresql/root.crt of that user). Each option is added, changed or dropped to match; the server's
-- other options and its user mappings are left alone. Called by the store node for `pos_central` (from
-- the sslmode of POS_CENTRAL_DATABASE_URL), and by an operator for a node's server on central.
CREATE OR REPLACE FUNCTION set_dblink_tls(p_server text, p_sslmode text, p_sslrootcert text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_option text;
    v_value text;
    v_present boolean;
BEGIN
    -- libpq's `allow` (plain text first) too: the services, which read the same options, refuse it.
    IF p_sslmode IS NOT NULL AND p_sslmode NOT IN ('disable', 'prefer', 'require', 'verify-ca', 'verify-full') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('sslmode %L is not one of disable, prefer, require, verify-ca, verify-full', p_sslmode);
    END IF;
    FOR v_option, v_value IN VALUES ('sslmode', p_sslmode), ('sslrootcert', p_sslrootcert) LOOP
        SELECT EXISTS (SELECT 1 FROM pg_foreign_server s CROSS JOIN LATERAL pg_options_to_table(s.srvoptions) o
                       WHERE s.srvname = p_server AND o.option_name = v_option)
        INTO v_present;
        IF v_value IS NOT NULL THEN
            EXECUTE format('ALTER SERVER %I OPTIONS (%s %I %L)', p_server,
                           CASE WHEN v_present THEN 'SET' ELSE 'ADD' END, v_option, v_value);
        ELSIF v_present THEN
            EXECUTE format('ALTER SERVER %I OPTIONS (DROP %I)', p_server, v_option);
        END IF;
    END LOOP;
END;
$$;

-- Makes a function callable by the peer's replication role only (PUBLIC may execute any function by
-- default). Local clusters create the role before the schema; where it does not exist yet, nothing is
-- granted.
CREATE OR REPLACE FUNCTION grant_to_replicator(p_function regprocedure) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', p_function);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pos_replicator') THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pos_replicator', p_function);
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------------------------------
-- Delivery, both directions (central → node replication, node outbox → central). How a failed remote
-- call is told apart:
-- - the peer is out of reach (no connection, shutting down, in recovery, out of connection slots):
--   entries wait as Failed, and the worker probes until the peer answers, then ships them at once;
-- - the peer refused one row's data (data exception or integrity violation, SQLSTATE classes 22 and
--   23, or PS403, a row the sender may not write): that row is set aside as Dead, alone;
-- - anything else (a timeout, a missing function on a node not yet upgraded): Failed, retried with
--   capped exponential back-off. Never Dead: it is not about one row, and time or an upgrade heals it.
CREATE OR REPLACE FUNCTION is_unreachable(p_sqlstate text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(p_sqlstate, 2) = '08' OR p_sqlstate IN ('57P01', '57P02', '57P03', '53300')
$$;

CREATE OR REPLACE FUNCTION is_rejection(p_sqlstate text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(p_sqlstate, 2) IN ('22', '23') OR p_sqlstate = 'PS403'
$$;

-- When an entry that has failed p_attempts times before may be tried again: capped exponential back-off.
CREATE OR REPLACE FUNCTION retry_at(p_attempts integer, p_base_ms integer, p_max_ms integer) RETURNS timestamptz
LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp()
           + least(p_max_ms::double precision, p_base_ms * power(2, least(p_attempts, 30))) * interval '1 millisecond'
$$;

-- The error of a failed remote call as it is stored and shown: message and detail, no secrets.
CREATE OR REPLACE FUNCTION delivery_error(p_message text, p_detail text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT redact_secrets(p_message || CASE WHEN coalesce(p_detail, '') <> '' THEN ': ' || p_detail ELSE '' END)
$$;

-- Runs p_query on the peer over the named dblink connection p_conn and returns its rows as jsonb,
-- waiting at most p_deadline_ms for them. In PostgreSQL 15 a blocking dblink call cannot be interrupted
-- (not by statement_timeout, not by a cancel), so a peer that hangs (stopped, not closed: the kernel
-- still acknowledges its packets) would hold the caller for as long as it hangs. The query is therefore
-- sent asynchronously and its answer waited for in short sleeps; past the deadline the connection is
-- closed and the call fails as a peer out of reach (SQLSTATE 08006). An answer within a millisecond or
-- two costs one sleep of a millisecond.
CREATE OR REPLACE FUNCTION remote_rows(p_conn text, p_query text, p_deadline_ms integer) RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_until timestamptz := clock_timestamp() + p_deadline_ms * interval '1 millisecond';
    v_polls integer := 0;
BEGIN
    IF dblink_send_query(p_conn, format('SELECT to_jsonb(q) FROM (%s) q', p_query)) <> 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'connection_failure',
            MESSAGE = 'could not send the query: ' || coalesce(dblink_error_message(p_conn), '');
    END IF;
    WHILE dblink_is_busy(p_conn) = 1 LOOP
        IF clock_timestamp() > v_until THEN
            PERFORM dblink_disconnect(p_conn);
            RAISE EXCEPTION USING ERRCODE = 'connection_failure',
                MESSAGE = format('no answer within %s ms', p_deadline_ms);
        END IF;
        v_polls := v_polls + 1;
        -- 1 ms steps while a quick answer is likely, then 5 ms: a long batch costs few wake-ups.
        PERFORM pg_sleep(CASE WHEN v_polls <= 20 THEN 0.001 ELSE 0.005 END);
    END LOOP;
    BEGIN
        RETURN QUERY SELECT t.row FROM dblink_get_result(p_conn) AS t(row jsonb);
    EXCEPTION WHEN OTHERS THEN
        -- The query's end must still be read before the connection takes another query.
        PERFORM 1 FROM dblink_get_result(p_conn, false) AS t(row jsonb);
        RAISE;
    END;
    PERFORM 1 FROM dblink_get_result(p_conn, false) AS t(row jsonb);
END;
$$;

-- Named dblink connections a session keeps open to its peer (opening one costs a backend and a password
-- exchange there): p_conn to the foreign server p_server, opened unless this session has it. The peer's
-- statement_timeout is set when given, so that it gives up on a call nobody waits for any more.
CREATE OR REPLACE FUNCTION ensure_connection(p_conn text, p_server text, p_statement_timeout_ms integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_conn = ANY (coalesce(dblink_get_connections(), '{}')) THEN
        RETURN p_conn;
    END IF;
    PERFORM dblink_connect(p_conn, p_server);
    IF p_statement_timeout_ms IS NOT NULL THEN
        PERFORM remote_rows(p_conn, format('SELECT set_config(%L, %L, false)', 'statement_timeout',
                                           p_statement_timeout_ms), probe_deadline_ms());
    END IF;
    RETURN p_conn;
END;
$$;

CREATE OR REPLACE FUNCTION drop_connection(p_conn text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_conn = ANY (coalesce(dblink_get_connections(), '{}')) THEN
        PERFORM dblink_disconnect(p_conn);
    END IF;
END;
$$;

-- How long a probe (`SELECT 1`, or setting up a new connection) waits: a peer that answers at all does
-- so in milliseconds.
CREATE OR REPLACE FUNCTION probe_deadline_ms() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 1000 $$;

-- A delivery worker's probe of a peer it could not reach: one round trip on the connection the next
-- batch will use (opened if need be, dropped if it fails).
CREATE OR REPLACE FUNCTION peer_answers(p_conn text, p_server text, p_statement_timeout_ms integer DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM remote_rows(ensure_connection(p_conn, p_server, p_statement_timeout_ms), 'SELECT 1',
                        probe_deadline_ms());
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    PERFORM drop_connection(p_conn);
    RETURN false;
END;
$$;

-- One batch to the peer, both directions: p_items shipped by ship_isolating() on the named connection
-- (opened if need be). rejected and errors name the items the peer refused (their position in p_items)
-- and why; everything else was applied. A failure of the whole call is caught: failure holds its
-- redacted error and unreachable whether the peer is out of reach (or hung past p_deadline_ms), and the
-- connection is dropped, so the next batch opens a fresh one.
CREATE OR REPLACE FUNCTION ship_batch(p_conn text, p_server text, p_statement_timeout_ms integer, p_function text,
                                      p_items json[], p_deadline_ms integer,
                                      OUT rejected integer[], OUT errors text[], OUT failure text,
                                      OUT unreachable boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_message text;
    v_detail text;
BEGIN
    unreachable := false;
    SELECT array_agg(x.item), array_agg(x.error) INTO rejected, errors
    FROM ship_isolating(ensure_connection(p_conn, p_server, p_statement_timeout_ms), p_function, p_items,
                        p_deadline_ms) x;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
    PERFORM drop_connection(p_conn);
    failure := delivery_error(v_message, v_detail);
    unreachable := is_unreachable(v_state);
END;
$$;

-- Ships p_items (a batch) as one call of the peer's p_function(jsonb) over the named dblink connection
-- p_conn, each call within p_deadline_ms. When the peer refuses the batch's data, the batch is split in halves and each shipped alone,
-- down to the single item it refuses: those come back (their position in p_items, counted from
-- p_first, and the redacted error); everything else has been applied. A healthy batch costs one call;
-- k refused items cost about 2·k·log2(batch) calls. Any other failure is raised to the caller.
-- The peer's function must be all-or-nothing per call, and applying an item twice must be harmless.
CREATE OR REPLACE FUNCTION ship_isolating(p_conn text, p_function text, p_items json[], p_deadline_ms integer,
                                          p_first integer DEFAULT 1)
RETURNS TABLE (item integer, error text)
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer := cardinality(p_items);
    v_half integer;
    v_state text;
    v_message text;
    v_detail text;
BEGIN
    IF coalesce(v_count, 0) = 0 THEN
        RETURN;
    END IF;
    BEGIN
        PERFORM remote_rows(p_conn, format('SELECT %I(%L::jsonb)', p_function, array_to_json(p_items)),
                            p_deadline_ms);
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        IF NOT is_rejection(v_state) THEN
            RAISE;
        END IF;
    END;
    IF v_count = 1 THEN
        item := p_first;
        error := delivery_error(v_message, v_detail);
        RETURN NEXT;
        RETURN;
    END IF;
    v_half := v_count / 2;
    RETURN QUERY SELECT * FROM ship_isolating(p_conn, p_function, p_items[1:v_half], p_deadline_ms, p_first);
    RETURN QUERY SELECT * FROM ship_isolating(p_conn, p_function, p_items[v_half + 1:v_count], p_deadline_ms,
                                              p_first + v_half);
END;
$$;

-- The ids a city's node gives the customers it signs up at its tills (sql/store/customers.sql), which
-- central never gives (its own ids stop below 1,000,000,000) and checks a node's sign-ups against
-- (sql/central/customers.sql): 1,000,000,000 + city × 10,000,000 + 1 to 9,999,999. NULL for a city
-- past 113, whose block would pass the integer's limit.
CREATE OR REPLACE FUNCTION customer_signup_ids(p_city_id integer) RETURNS int4range
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_city_id BETWEEN 1 AND 113
                THEN int4range(1000000000 + p_city_id * 10000000 + 1, 1000000000 + p_city_id * 10000000 + 9999999, '[]')
           END
$$;
