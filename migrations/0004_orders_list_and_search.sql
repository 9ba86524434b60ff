-- The orders list and search as the sled store has them.

-- The list's order, as the sled list index keeps it: newest `placed_at` first, ties by
-- number in ascending byte order (the sled key is the inverted time then the number's bytes).
-- The indexes of 0001 broke ties by number descending in the database's collation, so a
-- keyset page (`pg::orders`) could not walk them; these match its ORDER BY exactly.
DROP INDEX orders_newest;
DROP INDEX orders_by_sync_newest;
DROP INDEX orders_by_class_newest;
CREATE INDEX orders_newest ON orders (placed_at DESC, number COLLATE "C" ASC);
CREATE INDEX orders_by_sync_newest ON orders (sync_status, placed_at DESC, number COLLATE "C" ASC);
CREATE INDEX orders_by_class_newest ON orders (error_class, placed_at DESC, number COLLATE "C" ASC)
    WHERE error_class IS NOT NULL;

-- The order number as the search compares it, lower-cased by the bridge as the sled search
-- terms are (Rust's `to_lowercase`): PostgreSQL's lower() follows the database's locale, and
-- under the C locale it folds ASCII only, so `lower(number)` would not find `Ö-41` by `ö-`.
-- (The e-mail column is stored folded the same way.)
ALTER TABLE orders ADD COLUMN search_number text;
UPDATE orders SET search_number = lower(number);
ALTER TABLE orders ALTER COLUMN search_number SET NOT NULL;
DROP INDEX orders_number_prefix;
DROP INDEX orders_number_stripped_prefix;
CREATE INDEX orders_number_prefix ON orders (search_number text_pattern_ops);
CREATE INDEX orders_number_stripped_prefix ON orders (ltrim(search_number, '0') text_pattern_ops);
