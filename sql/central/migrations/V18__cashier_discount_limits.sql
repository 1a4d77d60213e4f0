-- The most a cashier credential may take off a line, or off a sale, by hand, in percent of what is left
-- after promotions; above it a store manager approves at the till. A manager's credential has no limit.
-- Replicated with the credential (the node's migration V16).
ALTER TABLE cashier_tokens
    ADD COLUMN discount_limit numeric(5,2) NOT NULL DEFAULT 0 CHECK (discount_limit BETWEEN 0 AND 100);
