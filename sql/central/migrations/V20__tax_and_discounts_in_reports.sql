-- A node's sales summary answers tax and discounts too (the node's migration V18): the psql wrapper
-- gains the columns (the replaceable file creates the new form).
DROP FUNCTION IF EXISTS node_sales_summary(integer, date, date, text);
