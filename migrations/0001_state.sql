-- The bridge's state on PostgreSQL: what the sled trees of `src/store/mod.rs` hold, as tables.
-- Records keep their full JSON form (`body`, `record`, `rule`, …) next to the columns that
-- queries filter, sort or join on, so that a row reads back as exactly the record sled keeps.
-- Secrets are never stored in plain text: the records hold them sealed (`secrets::Sealed`:
-- base64 of nonce ‖ XChaCha20-Poly1305 ciphertext, the field's name as associated data),
-- exactly as the sled store does; the key stays outside the database.

-- Small records of the deployment: the vault's key-check record, and the like.
CREATE TABLE meta (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Store orders (sled: `orders`, `orders_by_placed`, `orders_by_term`, `orders_by_sales_order`).
CREATE TABLE orders (
    number           text PRIMARY KEY,
    placed_at        timestamptz NOT NULL,
    email            text NOT NULL DEFAULT '',
    sync_status      text NOT NULL CHECK (sync_status IN
                         ('NOT_SYNCED', 'QUEUED', 'SYNCING', 'SYNCED', 'FAILED', 'NEEDS_ATTENTION')),
    payment_status   text NOT NULL CHECK (payment_status IN
                         ('QUEUED', 'AUTHORIZED', 'PARTIALLY_PAID', 'PAID', 'DECLINED', 'CANCELED', 'REFUNDED')),
    -- The class of the last failure of its sync (none when none), for the class filter.
    error_class      text CHECK (error_class IN ('DATA', 'TRANSIENT', 'CONFIGURATION')),
    sales_order_type text,
    sales_order_nbr  text,
    recorded_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- The whole `domain::Order` as JSON.
    body             jsonb NOT NULL,
    CHECK (number <> '')
);
-- The orders list, newest first (ties by number, as the sled index breaks them), also by
-- sync status.
CREATE INDEX orders_newest ON orders (placed_at DESC, number DESC);
CREATE INDEX orders_by_sync_newest ON orders (sync_status, placed_at DESC, number DESC);
CREATE INDEX orders_by_class_newest ON orders (error_class, placed_at DESC, number DESC)
    WHERE error_class IS NOT NULL;
-- Per-status counts: COUNT(*) … GROUP BY over this narrow index (an index-only scan), not a
-- kept counter row: a counter would be one hot row that every status change of every instance
-- updates (lock waits, bloat), while counting 100,000 index entries takes milliseconds.
CREATE INDEX orders_by_status ON orders (sync_status, payment_status);
-- Search: the start of the number, the e-mail address or its domain, case aside
-- (`lower(x) LIKE 'needle%'`; text_pattern_ops makes LIKE prefixes use the index whatever the
-- database's collation). Leading zeros of a number are dropped by the query, as in sled.
CREATE INDEX orders_number_prefix ON orders (lower(number) text_pattern_ops);
CREATE INDEX orders_number_stripped_prefix ON orders (ltrim(lower(number), '0') text_pattern_ops);
CREATE INDEX orders_email_prefix ON orders (lower(email) text_pattern_ops);
CREATE INDEX orders_email_domain_prefix
    ON orders (lower(substring(email FROM '@([^@]*)$')) text_pattern_ops);
-- The order of a Sales Order.
CREATE UNIQUE INDEX orders_by_sales_order ON orders (sales_order_type, sales_order_nbr)
    WHERE sales_order_nbr IS NOT NULL;

-- Settings (sled: `settings`): one JSON value per key.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Connection records (sled: `connection`, `store_connection`): `acumatica` holds a
-- `connection::record::ConnectionRecord`, `xcart` a `store_import::record::StoreRecord` (with
-- the import's cursors). Their secrets are `Sealed`, never plain text (see the top).
-- `generation` mirrors the record's, so that a stale job can be told by a compare-and-set.
CREATE TABLE connections (
    name       text PRIMARY KEY CHECK (name IN ('acumatica', 'xcart')),
    generation bigint NOT NULL DEFAULT 0,
    record     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Acumatica lookups for the settings' drop-downs (sled: `lookups`), the customer map
-- (`customer_map`) and SKUs known to exist (`known_items`).
CREATE TABLE lookups (
    name       text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE customer_map (
    identifier  text PRIMARY KEY,  -- email:…, phone:…, profile:…
    customer_id text NOT NULL
);
CREATE TABLE known_items (
    sku text PRIMARY KEY
);

-- Cursors of the polls that walk a remote list: `shipments` (the shipment poll's inclusive
-- LastModifiedDateTime) and `catchup:<job id>` (a running catch-up import).
CREATE TABLE cursors (
    name       text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Shipments a poll has pushed a WRITE_BACK for (sled: `shipments`, `seen:<shipmentNbr>`), by
-- the version (Acumatica's LastModifiedDateTime, UTC) seen; pruned once before the cursor.
CREATE TABLE shipments_seen (
    shipment_nbr text PRIMARY KEY,
    version      timestamptz NOT NULL
);

-- The audit log of operator actions (sled: `audit`), newest last by id.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    action  text NOT NULL,
    summary text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    result  text,
    client  jsonb NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- Alert rules and incidents (sled: `alerts`). A rule's channels hold their webhook secret
-- and SMTP password sealed.
CREATE TABLE alert_rules (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    enabled    boolean NOT NULL,
    rule       jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE alert_incidents (
    id        bigserial PRIMARY KEY,
    rule_id   bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    subject   text NOT NULL,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    incident  jsonb NOT NULL
);
-- At most one open incident per rule and subject (sled: `open:<rule><subject>`).
CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (rule_id, subject)
    WHERE closed_at IS NULL;
CREATE INDEX alert_incidents_newest ON alert_incidents (opened_at DESC, id DESC);
