-- The job queue (sled: `jobs`, `jobs_index`; see `src/pg/queue.rs`). One row per
-- `jobs::JobRecord`; the indexes below are the sled queue's index prefixes.
CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind ~ '^[A-Z0-9_]{1,64}$'),
    status           text NOT NULL CHECK (status IN
                         ('QUEUED', 'RUNNING', 'RETRY_SCHEDULED', 'SUCCEEDED', 'FAILED', 'CANCELED')),
    payload          jsonb NOT NULL,
    -- Attempts of the current round (a manual retry starts a new round at 0).
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    -- When a QUEUED or RETRY_SCHEDULED job may run next.
    run_at           timestamptz,
    unique_key       text,
    order_number     text,
    -- The instance (worker) holding a RUNNING job, and until when: an expired lease is taken
    -- over by another instance (the attempt counts as interrupted).
    lease_owner      text,
    lease_until      timestamptz,
    -- A job parked by a handler's NotReady: runnable again when the condition is woken.
    wait_condition   text,
    wait_reason      text,
    cancel_requested boolean NOT NULL DEFAULT false,
    last_error       text,
    error_class      text CHECK (error_class IN ('DATA', 'TRANSIENT', 'CONFIGURATION')),
    progress         jsonb,
    -- Every attempt (`jobs::Attempt`), oldest first.
    history          jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((status = 'RUNNING') = (lease_owner IS NOT NULL AND lease_until IS NOT NULL)),
    CHECK (status NOT IN ('QUEUED', 'RETRY_SCHEDULED') OR run_at IS NOT NULL
           OR wait_condition IS NOT NULL)
);
-- At most one live job per uniqueness key (sled: `u`).
CREATE UNIQUE INDEX jobs_one_live_per_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING', 'RETRY_SCHEDULED');
-- Claiming: runnable jobs of a kind, due first (sled: `r`).
CREATE INDEX jobs_runnable ON jobs (kind, run_at, id)
    WHERE status IN ('QUEUED', 'RETRY_SCHEDULED') AND wait_condition IS NULL;
-- Parked jobs by condition (sled: `p`).
CREATE INDEX jobs_parked ON jobs (wait_condition)
    WHERE wait_condition IS NOT NULL;
-- RUNNING jobs by lease expiry, for takeover (sled: `x`).
CREATE INDEX jobs_leases ON jobs (kind, lease_until)
    WHERE status = 'RUNNING';
-- Jobs of an order, newest first (sled: `o`).
CREATE INDEX jobs_by_order ON jobs (order_number, id DESC)
    WHERE order_number IS NOT NULL;
-- SUCCEEDED jobs by age, for retention (sled: `s`).
CREATE INDEX jobs_succeeded_age ON jobs (updated_at)
    WHERE status = 'SUCCEEDED';
-- Lists and counts by status and kind, newest first (sled: `l`, `c`).
CREATE INDEX jobs_by_status_kind ON jobs (status, kind, id DESC);
