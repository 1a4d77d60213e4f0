-- Nodes registered before cities were replicated receive them once (the new enum value of V5 can only be
-- used after V5 committed).
INSERT INTO replication_log (table_name, record_id, target_city_id, operation)
SELECT 'cities', c.id, n.city_id, 'LOAD' FROM cities c CROSS JOIN nodes n WHERE n.enabled;
