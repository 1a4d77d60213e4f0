-- Whether the city's shelf prices include tax (the chain's default, as in Pakistan) or have it added at
-- the till (as in most of the United States): tax rules are a jurisdiction's. Replicated with the city.
ALTER TABLE cities ADD COLUMN prices_include_tax boolean NOT NULL DEFAULT true;
