-- weft schema version 2: several hosts on one database.
--
-- Hosts register in weft_hosts and refresh their row while they live. The
-- store is one partition (part 0) that one host at a time holds by a lease:
-- the holder, its lease generation (raised by one each time another host,
-- or a new process, takes it) and an expiry judged in the database's time.
-- Every write transaction of a host calls weft_fence first: it locks the
-- lease row (KEY SHARE, which a renewal's UPDATE does not wait for, but a
-- taker's SELECT ... FOR UPDATE does) and refuses the transaction unless
-- the host still holds the lease at the generation it took.
CREATE TABLE weft_hosts (
    host_id text PRIMARY KEY,
    address text NOT NULL,
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    in_memory bigint NOT NULL DEFAULT 0
);
CREATE TABLE weft_leases (
    part integer PRIMARY KEY,
    owner text,
    generation bigint NOT NULL DEFAULT 0,
    -- The server process of the owner's lease session (which holds the
    -- writer's advisory lock), ended by a taker once the lease expired.
    pid integer,
    taken_at timestamptz,
    renewed_at timestamptz,
    expires_at timestamptz
);
INSERT INTO weft_leases (part) VALUES (0);
-- Who held each generation (kept; a row per handover).
CREATE TABLE weft_lease_log (
    generation bigint PRIMARY KEY,
    part integer NOT NULL,
    owner text NOT NULL,
    taken_at timestamptz NOT NULL
);
-- Each commit's token says which host wrote it, at which generation.
ALTER TABLE weft_commit_tokens
    ADD COLUMN host text,
    ADD COLUMN generation bigint,
    ADD COLUMN committed_at timestamptz DEFAULT clock_timestamp();
CREATE FUNCTION weft_fence(p_owner text, p_generation bigint) RETURNS void AS $$
DECLARE
    held_by text;
    held_at bigint;
BEGIN
    SELECT owner, generation INTO held_by, held_at
      FROM weft_leases WHERE part = 0 FOR KEY SHARE;
    IF held_by IS DISTINCT FROM p_owner OR held_at IS DISTINCT FROM p_generation THEN
        RAISE EXCEPTION 'weft host % wrote at lease generation %, but generation % is held by %',
            p_owner, p_generation, held_at, held_by
            USING ERRCODE = 'WF001';
    END IF;
END
$$ LANGUAGE plpgsql;
