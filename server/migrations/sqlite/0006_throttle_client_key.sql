-- The per-client throttle rules key a client by its address, an IPv6 client by its /64
-- (domain::throttle::client_key); the full address stays in `client` for the activity list.
ALTER TABLE audit_log ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET client_key = client;
CREATE INDEX audit_throttle_client ON audit_log(kind, client_key, at);
