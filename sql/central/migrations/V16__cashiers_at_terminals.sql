-- A cashier credential names who sells and at which terminal (till) of its store, and whether it is a
-- store manager's: a manager approves what a cashier may not do alone. Replicated with the credential.
ALTER TABLE cashier_tokens
    ADD COLUMN cashier  text CHECK (cashier IS NULL OR length(cashier) <= 100),
    ADD COLUMN terminal text CHECK (terminal IS NULL OR length(terminal) <= 32),
    ADD COLUMN role     text NOT NULL DEFAULT 'cashier' CHECK (role IN ('cashier', 'manager'));
