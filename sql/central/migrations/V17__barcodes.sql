-- A product's barcode (EAN-8, UPC-A, EAN-13 or GTIN-14: 8 to 14 digits), unique across the chain, as
-- the till's scanner reads it. Replicated with the product.
ALTER TABLE products ADD COLUMN barcode text UNIQUE CHECK (barcode ~ '^[0-9]{8,14}$');
