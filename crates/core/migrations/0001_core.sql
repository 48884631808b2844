-- Idempotency records: one per (scope, key). A request claims its key in state 'started'
-- before calling a provider and stores the encoded response in state 'finished'.
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    response TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_ms);

-- Objects kept by the sandbox providers (payments, messages, tokens): JSON bodies by id.
CREATE TABLE sandbox_records (
    family TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (family, kind, id)
);

-- The ids we mint for provider objects, and where each object lives.
CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX resources_provider_id ON resources (provider, provider_id);
