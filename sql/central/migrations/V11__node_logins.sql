-- Each node reports its sales under a login of its own at central (a member of pos_replicator), and may
-- report only its own city's stores: `central_login` names it (`pos_node_<city_id>` unless registered
-- with another). A node that still reports as the shared pos_replicator is refused until it has its
-- own login (its sales wait in its outbox; README, "Database roles").
ALTER TABLE nodes ADD COLUMN central_login text;
UPDATE nodes SET central_login = 'pos_node_' || city_id;
ALTER TABLE nodes ALTER COLUMN central_login SET NOT NULL,
                  ADD CONSTRAINT nodes_central_login_key UNIQUE (central_login);

-- The cities each store has been in: a sale its old node made before the store moved is still that
-- node's to report. Kept by a trigger on stores (orders.sql).
CREATE TABLE store_cities (
    store_id integer NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    city_id  integer NOT NULL REFERENCES cities (id),
    PRIMARY KEY (store_id, city_id)
);
INSERT INTO store_cities (store_id, city_id) SELECT id, city_id FROM stores;

-- register_node() takes the node's login (nodes.sql).
DROP FUNCTION IF EXISTS register_node(integer, text, integer, text, text, text);
