-- weft schema version 4: when each client signal request id is to be
-- forgotten (host/src/store/tables.rs SIGNAL_REQUESTS and
-- SIGNAL_REQUESTS_BY_TARGET), so that the inbox forgets it after the
-- target's retention. An expand step: hosts of schema version 3 neither
-- read nor write them, and run beside those of 4 (the request ids they
-- record are kept as long as their execution).
CREATE TABLE weft_signal_requests (k0 bigint, k1 bytea, k2 bytea, PRIMARY KEY (k0, k1, k2));
CREATE TABLE weft_signal_requests_by_target (k0 bytea, k1 bytea, v bigint NOT NULL, PRIMARY KEY (k0, k1));
