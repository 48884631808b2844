-- Provider events received through webhooks, one row per (provider, account, event id).
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    account TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_provider_id TEXT NOT NULL,
    occur_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (provider, account, provider_event_id)
);
CREATE INDEX events_received ON events (received_ms);

-- Consumer groups and the filter fixed when each was created.
CREATE TABLE consumer_groups (
    name TEXT PRIMARY KEY,
    type_prefixes TEXT NOT NULL,
    providers TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- One row per (group, event): where the event stands for that group.
-- state: pending, leased (sent to a stream until lease_until_ms), acked, dead.
CREATE TABLE deliveries (
    group_name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    occur_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    lease_token TEXT,
    lease_until_ms BIGINT NOT NULL,
    last_delivery_ms BIGINT NOT NULL,
    dead_ms BIGINT NOT NULL,
    PRIMARY KEY (group_name, event_id)
);
CREATE INDEX deliveries_ready ON deliveries (group_name, state, occur_ms, received_ms);
CREATE INDEX deliveries_resource ON deliveries (group_name, resource_key, state);
CREATE INDEX deliveries_token ON deliveries (lease_token);
