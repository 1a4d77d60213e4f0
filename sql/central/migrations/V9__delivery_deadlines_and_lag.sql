-- Remote calls wait at most a deadline (remote_rows() in common/functions.sql): ship_isolating() takes
-- it as an argument, and deliver_replication() also returns each delivered change's lag. Both change
-- their signatures, so the old ones go; the replaceable files then create the new ones.
-- fetch_order_details() is gone: the service asks a node for an order's details directly.
DROP FUNCTION IF EXISTS ship_isolating(text, text, json[], integer);
DROP FUNCTION IF EXISTS deliver_replication(integer, boolean);
DROP FUNCTION IF EXISTS fetch_order_details(integer, uuid);
