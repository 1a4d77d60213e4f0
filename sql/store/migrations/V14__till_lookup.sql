-- Finding a product at the till: by its barcode (the scanner), its SKU (indexed since V1), or words of
-- its name. pg_trgm (a trusted extension of PostgreSQL's contrib, which the database's owner may
-- install) indexes the names by trigrams, so that a search for part of a name reads the index rather
-- than the catalogue.
ALTER TABLE products ADD COLUMN barcode text;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_barcode_idx ON products (barcode);
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
