-- The caller's metadata of objects whose provider keeps none (square, paypal), as JSON; empty
-- when the provider keeps them itself or the caller gave none.
ALTER TABLE resources ADD COLUMN labels TEXT NOT NULL DEFAULT '';
