-- Remote calls wait at most a deadline (remote_rows() in common/functions.sql): ship_isolating() takes
-- it as an argument, and push_outbox() also returns each delivered entry's lag. Both change their
-- signatures, so the old ones go; the replaceable files then create the new ones.
DROP FUNCTION IF EXISTS ship_isolating(text, text, json[], integer);
DROP FUNCTION IF EXISTS push_outbox(boolean, integer);
-- Both directions open, probe and drop their connections through the shared functions now.
DROP FUNCTION IF EXISTS ensure_central_connection();
DROP FUNCTION IF EXISTS drop_central_connection();
