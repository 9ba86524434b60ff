-- The orders list's order, as the sled list index keeps it: newest `placed_at` first, ties by
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
