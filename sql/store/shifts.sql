-- Shifts: opening, cash in and out, the X report (at any time) and the Z report (at close).
-- Called by: the store-node service (POST /shifts, POST /shifts/current/cash-movements,
-- GET /shifts/current/report, POST /shifts/current/close), and checkout() and refund_order(), which
-- file what they make under the open shift of the credential's terminal.
-- Replaceable (CREATE OR REPLACE only): re-applied at start-up under an advisory lock when its text changes.

-- Errors the service maps to HTTP answers:
--   PS412 no shift is open at the terminal (or the credential names no terminal)
--   PS413 a shift is open at the terminal already
--   PS415 a cash movement the drawer cannot take (more out than it holds, its cash past 9,999,999,999.99)

-- A closed shift is its Z report: it changes no more.
CREATE OR REPLACE FUNCTION keep_closed_shift() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PS413', MESSAGE = format('shift %s is closed; its Z report stands', OLD.id);
END;
$$;
CREATE OR REPLACE TRIGGER trg_shifts_closed BEFORE UPDATE OR DELETE ON shifts
    FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) EXECUTE FUNCTION keep_closed_shift();

-- The open shift of the credential's terminal, unlocked; NULL when the credential names no terminal or
-- its terminal has no open shift.
CREATE OR REPLACE FUNCTION terminal_shift(p_store_id integer, p_credential_id integer) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT s.id FROM shifts s JOIN cashier_tokens t ON t.terminal = s.terminal
    WHERE t.id = p_credential_id AND s.store_id = p_store_id AND s.closed_at IS NULL
$$;

-- The same, held (FOR SHARE) until the caller's transaction ends, so that a close waits for the sales in
-- flight; a sale that waited for a close finds the shift closed (the row is checked again) and joins none.
CREATE OR REPLACE FUNCTION open_shift_of(p_store_id integer, p_credential_id integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_shift bigint := terminal_shift(p_store_id, p_credential_id);
BEGIN
    SELECT id INTO v_shift FROM shifts WHERE id = v_shift AND closed_at IS NULL FOR SHARE;
    RETURN v_shift;
END;
$$;

-- The open shift of the credential's terminal, or PS412.
CREATE OR REPLACE FUNCTION current_shift(p_store_id integer, p_credential_id integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_shift bigint := open_shift_of(p_store_id, p_credential_id);
BEGIN
    IF v_shift IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS412', MESSAGE = 'no shift is open at this terminal';
    END IF;
    RETURN v_shift;
END;
$$;

CREATE OR REPLACE FUNCTION open_shift(p_store_id integer, p_credential_id integer, p_opening_float numeric)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_terminal text := (SELECT terminal FROM cashier_tokens WHERE id = p_credential_id AND store_id = p_store_id);
    v_shift bigint;
BEGIN
    IF v_terminal IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS412',
            MESSAGE = 'this credential names no terminal: head office issues one with a terminal for shifts';
    END IF;
    INSERT INTO shifts (store_id, terminal, opened_by, opening_float)
    VALUES (p_store_id, v_terminal, p_credential_id, p_opening_float)
    ON CONFLICT (store_id, terminal) WHERE closed_at IS NULL DO NOTHING
    RETURNING id INTO v_shift;
    IF v_shift IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS413', MESSAGE = format('a shift is open at terminal %s already', v_terminal);
    END IF;
    RETURN v_shift;
END;
$$;

-- Cash into the drawer or out of it. Not more out than the drawer is expected to hold, and not so much
-- in that the shift's figures pass what a till's amounts hold (9,999,999,999.99): its X and Z reports
-- must add up. The shift is locked (FOR UPDATE, as a close takes it) so that each movement is checked
-- against the ones before it; the sales in flight finish first.
CREATE OR REPLACE FUNCTION record_cash_movement(p_store_id integer, p_credential_id integer, p_kind text,
                                                p_amount numeric, p_reason text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_shift bigint := terminal_shift(p_store_id, p_credential_id);
    v_report jsonb;
    v_expected numeric;
    v_id bigint;
BEGIN
    PERFORM 1 FROM shifts WHERE id = v_shift AND closed_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS412', MESSAGE = 'no shift is open at this terminal';
    END IF;
    v_report := shift_report(v_shift);
    v_expected := (v_report ->> 'expected_cash')::numeric;
    IF p_kind = 'out' AND p_amount > v_expected THEN
        RAISE EXCEPTION USING ERRCODE = 'PS415',
            MESSAGE = format('the drawer is expected to hold %s: %s cannot be taken out of it', v_expected, p_amount);
    END IF;
    IF (v_report ->> ('cash_' || p_kind))::numeric + p_amount >= 10000000000
       OR (p_kind = 'in' AND v_expected + p_amount >= 10000000000) THEN
        RAISE EXCEPTION USING ERRCODE = 'PS415',
            MESSAGE = format('the shift''s cash %s would come to 10,000,000,000.00 or more, past what a till''s figures hold', p_kind);
    END IF;
    INSERT INTO cash_movements (shift_id, kind, amount, reason, credential_id)
    VALUES (v_shift, p_kind, p_amount, p_reason, p_credential_id)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

-- A shift's figures (the X report while it is open; the Z report is this at close, with the count):
-- its sales, refunds (with returns without a receipt), voids and cash movements, totals by payment method (cash net of change; a void
-- gives back each of its sale's payments), and the cash the drawer should hold: the float, plus cash
-- taken, less cash refunded and voided, plus cash in, less cash out.
CREATE OR REPLACE FUNCTION shift_report(p_shift_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT * FROM shifts WHERE id = p_shift_id),
    sales AS (SELECT count(*) AS n, coalesce(sum(total), 0) AS total, coalesce(sum(tax_total), 0) AS tax,
                     coalesce(sum(discount_total), 0) AS discounts
              FROM orders WHERE shift_id = p_shift_id),
    given AS (SELECT count(*) AS n, coalesce(sum(amount), 0) AS total, coalesce(sum(tax_amount), 0) AS tax
              FROM refunds WHERE shift_id = p_shift_id AND kind <> 'void'),
    voids AS (SELECT count(*) AS n, coalesce(sum(amount), 0) AS total, coalesce(sum(tax_amount), 0) AS tax,
                      coalesce(array_agg(order_id), '{}') AS orders
               FROM refunds WHERE shift_id = p_shift_id AND kind = 'void'),
    moved AS (SELECT coalesce(sum(amount) FILTER (WHERE kind = 'in'), 0) AS cash_in,
                     coalesce(sum(amount) FILTER (WHERE kind = 'out'), 0) AS cash_out
              FROM cash_movements WHERE shift_id = p_shift_id),
    methods AS (
        SELECT m.method,
               coalesce((SELECT sum(p.amount) FROM payments p JOIN orders o ON o.id = p.order_id
                         WHERE o.shift_id = p_shift_id AND p.method = m.method), 0)
               - CASE WHEN m.method = 'cash'
                      THEN coalesce((SELECT sum(o.change_due) FROM orders o WHERE o.shift_id = p_shift_id), 0)
                      ELSE 0 END AS taken,
               coalesce((SELECT sum(r.amount) FROM refunds r
                         WHERE r.shift_id = p_shift_id AND r.kind <> 'void' AND r.method = m.method), 0)
               AS refunded,
               coalesce((SELECT sum(p.amount) FROM payments p
                         WHERE p.order_id = ANY (voids.orders) AND p.method = m.method), 0)
               - CASE WHEN m.method = 'cash'
                      THEN coalesce((SELECT sum(o.change_due) FROM orders o WHERE o.id = ANY (voids.orders)), 0)
                      ELSE 0 END AS voided
        FROM (VALUES ('cash'), ('card'), ('wallet'), ('store_credit')) AS m (method), voids)
    SELECT jsonb_build_object(
        'shift_id', s.id, 'terminal', s.terminal, 'opened_at', s.opened_at, 'closed_at', s.closed_at,
        'opening_float', s.opening_float::text,
        'sales_count', sales.n, 'sales', sales.total::text, 'discounts', sales.discounts::text,
        'refunds_count', given.n, 'refunds', given.total::text,
        'voids_count', voids.n, 'voids', voids.total::text,
        'tax', (sales.tax - given.tax - voids.tax)::text,
        'cash_in', moved.cash_in::text, 'cash_out', moved.cash_out::text,
        'by_payment_method', (SELECT jsonb_agg(jsonb_build_object(
                                  'method', method, 'taken', taken::text, 'refunded', refunded::text,
                                  'voided', voided::text, 'net', (taken - refunded - voided)::text)
                                  ORDER BY method) FROM methods),
        'expected_cash', (s.opening_float + moved.cash_in - moved.cash_out
                          + (SELECT taken - refunded - voided FROM methods WHERE method = 'cash'))::text)
    FROM s, sales, given, voids, moved
$$;

-- Closes the credential's terminal's shift with the cash counted: waits for the sales in flight
-- (open_shift_of() holds the row), numbers the Z report (per terminal), and keeps it with the count
-- and the variance (counted less expected).
CREATE OR REPLACE FUNCTION close_shift(p_store_id integer, p_credential_id integer, p_counted_cash numeric)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_shift shifts;
    -- Unlocked, then locked FOR UPDATE at once: a share lock first would deadlock two closes of one shift
    -- (a till's retry), each waiting to upgrade while the other holds its share.
    v_id bigint := terminal_shift(p_store_id, p_credential_id);
    v_z integer;
    v_closed timestamptz := now();
    v_report jsonb;
BEGIN
    SELECT * INTO v_shift FROM shifts WHERE id = v_id AND closed_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PS412', MESSAGE = 'no shift is open at this terminal';
    END IF;
    v_z := coalesce((SELECT max(z_number) FROM shifts
                     WHERE store_id = v_shift.store_id AND terminal = v_shift.terminal), 0) + 1;
    v_report := shift_report(v_shift.id);
    -- The variance is a computed figure like the report's sums, rounded, never refused: a shift always
    -- closes.
    v_report := v_report || jsonb_build_object(
        'closed_at', v_closed, 'z_number', v_z, 'counted_cash', p_counted_cash::numeric(12,2)::text,
        'variance', round(p_counted_cash - (v_report ->> 'expected_cash')::numeric, 2)::text);
    UPDATE shifts SET closed_at = v_closed, closed_by = p_credential_id, counted_cash = p_counted_cash,
                      z_number = v_z, z_report = v_report
    WHERE id = v_shift.id;
    RETURN v_report;
END;
$$;
