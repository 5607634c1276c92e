-- weft schema version 1: the store's tables, one per table of the embedded
-- store (host/src/store/tables.rs). Keys are the primary key, in the order
-- the store ranges them; strings are bytea (byte order, NUL allowed),
-- u64 keys bigint with the sign bit flipped (see kv/types.rs).
CREATE TABLE weft_modules (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_module_meta (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_workflow_types (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_type_versions (k0 bytea, k1 bigint, v bytea NOT NULL, PRIMARY KEY (k0, k1));
CREATE TABLE weft_heartbeats (k0 bytea, k1 bigint, k2 bigint, v bytea NOT NULL, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_attempts (k0 bytea, k1 bigint, k2 bigint, v bytea NOT NULL, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_type_retention (k0 bytea PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE weft_activities (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_executions (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_history (k0 bytea, k1 bigint, v bytea NOT NULL, PRIMARY KEY (k0, k1));
CREATE TABLE weft_host_state (k0 bytea PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE weft_timers (k0 bigint, k1 bytea, k2 bigint, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_timers_by_execution (k0 bytea, k1 bigint, k2 bigint, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_completed (k0 bytea, k1 bigint, k2 bigint, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_owed_policies (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_outbox (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_inbox (k0 bytea, k1 bytea, PRIMARY KEY (k0, k1));
CREATE TABLE weft_start_requests (k0 bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE weft_schedules (k0 bytea PRIMARY KEY, v bytea NOT NULL);
-- A token per write transaction committed (kept an hour): after a
-- connection failed during a commit, its token says whether it was made.
CREATE TABLE weft_commit_tokens (token bigint PRIMARY KEY);
