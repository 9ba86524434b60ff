-- The Acumatica limits shared by every instance (see `src/pg/limiter.rs`): the license counts
-- requests per Acumatica instance, not per bridge.
--
-- Requests a minute: one row per limiter; a request takes the slot `next_at` (or now, if
-- that has passed) and moves `next_at` one interval on, in one UPDATE, so that requests of
-- all instances are spread evenly (one every 60 s / max_rpm), as the in-process limiter does.
-- `paused_until` is a 429's Retry-After, for everyone.
CREATE TABLE rate_limits (
    name         text PRIMARY KEY,
    next_at      timestamptz NOT NULL DEFAULT now(),
    paused_until timestamptz
);

-- Requests in flight: `max_concurrency` slot rows per limiter; a request holds one under a
-- lease (`held_until`), so that the slots of a killed instance come free on their own.
CREATE TABLE rate_limit_slots (
    name       text NOT NULL REFERENCES rate_limits (name) ON DELETE CASCADE,
    slot       integer NOT NULL CHECK (slot >= 0),
    holder     text,
    held_until timestamptz,
    PRIMARY KEY (name, slot),
    CHECK ((holder IS NULL) = (held_until IS NULL))
);
