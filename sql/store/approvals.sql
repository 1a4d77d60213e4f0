-- Approvals: what a cashier may not do alone (a discount above the credential's limit, a void) a store
-- manager approves. A manager's credential needs none; a cashier's write carries an approval a manager
-- of the store granted minutes before (POST /approvals), and uses it up: once, before it expires, for
-- the action it names.
-- Called by: the store-node service (POST /approvals), checkout() and void_order().
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Errors the service maps to HTTP answers:
--   PS403 the write needs a store manager's approval, and has none that holds (403 forbidden)

CREATE OR REPLACE FUNCTION is_store_manager(p_store_id integer, p_credential_id integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM cashier_tokens
                   WHERE id = p_credential_id AND store_id = p_store_id AND role = 'manager' AND revoked_at IS NULL)
$$;

-- A manager of the store approves one action for the next p_valid_for; returns the approval.
CREATE OR REPLACE FUNCTION grant_approval(p_store_id integer, p_credential_id integer, p_action text,
                                          p_max_discount_percent numeric, p_reason text, p_valid_for interval)
RETURNS approvals LANGUAGE plpgsql AS $$
DECLARE
    v_approval approvals;
BEGIN
    IF NOT is_store_manager(p_store_id, p_credential_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403', MESSAGE = 'only a store manager''s credential grants approvals';
    END IF;
    INSERT INTO approvals (approval_id, store_id, action, max_discount_percent, granted_by, reason, expires_at)
    VALUES (gen_random_uuid(), p_store_id, p_action,
            CASE WHEN p_action = 'discount' THEN coalesce(p_max_discount_percent, 100) END,
            p_credential_id, p_reason, now() + p_valid_for)
    RETURNING * INTO v_approval;
    RETURN v_approval;
END;
$$;

-- Who approved an action of p_credential_id's: NULL when the credential is a manager of the store (who
-- needs no one), else the manager who granted p_approval_id, which this uses up. PS403 when there is
-- no approval, or it is another store's or another action's, used, or expired. p_what says what needs it.
CREATE OR REPLACE FUNCTION approver(p_store_id integer, p_credential_id integer, p_action text,
                                   p_approval_id uuid, p_what text) RETURNS approvals
LANGUAGE plpgsql AS $$
DECLARE
    v_approval approvals;
BEGIN
    IF is_store_manager(p_store_id, p_credential_id) THEN
        RETURN NULL;
    END IF;
    IF p_approval_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403',
            MESSAGE = format('%s needs a store manager''s approval (approval_id)', p_what);
    END IF;
    SELECT * INTO v_approval FROM approvals
    WHERE approval_id = p_approval_id AND store_id = p_store_id AND action = p_action
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403',
            MESSAGE = format('approval %s is no %s approval of this store', p_approval_id, p_action);
    END IF;
    IF v_approval.used_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403', MESSAGE = format('approval %s was used already', p_approval_id);
    END IF;
    IF v_approval.expires_at <= now() THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403',
            MESSAGE = format('approval %s expired at %s', p_approval_id, v_approval.expires_at);
    END IF;
    UPDATE approvals SET used_at = now(), used_by = p_credential_id WHERE id = v_approval.id;
    RETURN v_approval;
END;
$$;

-- Who approved a sale's discounts by hand, the largest of which takes p_percent off what it applies
-- to: NULL when the credential's own limit (or its being a manager's) covers it.
CREATE OR REPLACE FUNCTION discount_approver(p_store_id integer, p_credential_id integer, p_percent numeric,
                                             p_approval_id uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_limit numeric := coalesce((SELECT discount_limit FROM cashier_tokens WHERE id = p_credential_id), 0);
    v_approval approvals;
BEGIN
    IF p_percent <= v_limit THEN
        RETURN NULL;
    END IF;
    v_approval := approver(p_store_id, p_credential_id, 'discount', p_approval_id,
                           format('a discount of %s%% (this credential''s limit is %s%%)',
                                  round(p_percent, 2), v_limit));
    IF p_percent > v_approval.max_discount_percent THEN
        RAISE EXCEPTION USING ERRCODE = 'PS403',
            MESSAGE = format('a discount of %s%% is more than approval %s allows (%s%%)',
                             round(p_percent, 2), p_approval_id, v_approval.max_discount_percent);
    END IF;
    RETURN v_approval.granted_by;
END;
$$;
