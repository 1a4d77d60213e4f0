-- Audit: every change of master data (cities, categories, products, stores, customers, cashier
-- credentials, nodes and head office's accounts) written to audit_log in the writer's transaction.
-- Called by: the row triggers below, on every INSERT, UPDATE and DELETE of those tables.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Who: the service names the signed-in account (or `admin-token`) in the setting pos.actor of the
-- session it writes with; a change made another way (psql) is put on the database role that made it.
-- Secrets are never copied: a credential's digest and a password's hash are left out. Nor is a node's
-- last_success_at, which every delivery sets: bookkeeping, not a change anyone made (it wrote an entry
-- per delivered batch, hundreds a minute).
CREATE OR REPLACE FUNCTION audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_before jsonb;
    v_after jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        v_before := to_jsonb(OLD) - 'token_sha256' - 'password_hash' - 'last_success_at';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        v_after := to_jsonb(NEW) - 'token_sha256' - 'password_hash' - 'last_success_at';
    END IF;
    IF v_before = v_after THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor, action, entity, entity_id, before, after)
    VALUES (coalesce(nullif(current_setting('pos.actor', true), ''), 'database role ' || session_user),
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
            TG_TABLE_NAME,
            (coalesce(v_after, v_before) ->> CASE WHEN TG_TABLE_NAME = 'nodes' THEN 'city_id' ELSE 'id' END)::integer,
            v_before, v_after);
    RETURN NULL;
END;
$$;

-- One row trigger per audited table (names built with format() and %I).
DO $$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['cities', 'categories', 'products', 'promotions', 'stores', 'customers',
                                   'cashier_tokens', 'nodes', 'accounts'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION audit_change()', 'trg_' || v_table || '_audit', v_table);
    END LOOP;
END;
$$;
