-- Functions of earlier releases whose signature changed. The replaceable files only ever CREATE OR
-- REPLACE, so the old forms are dropped here, once: checkout() and checkout_order() without the
-- p_with_order argument.
DROP FUNCTION IF EXISTS checkout_order(integer, integer, jsonb, jsonb, uuid);
DROP FUNCTION IF EXISTS checkout(integer, integer, jsonb, jsonb, uuid);
