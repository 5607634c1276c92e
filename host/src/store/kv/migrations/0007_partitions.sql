-- weft schema version 7: partitions. A store may be made with several
-- partitions (a row of weft_leases each, part 0 to n - 1, fixed when the
-- database is made); partition n > 0 keeps its copy of every table of an
-- execution's or a schedule's rows in the schema weft_p<n>, and shares the
-- others (modules, types, versions, activities, search attribute types,
-- the clock) with the rest. A store made before has partition 0 alone,
-- whose tables are those it always had.
--
-- Which partition each execution id is in (weft_directory: written with
-- the id's first run, on a store of several partitions only).
--
-- Each partition has its own lease and lease generation: the log of who
-- held each generation is keyed by (part, generation), each commit's token
-- says which partition it wrote, and the fence takes the partition. An
-- expand step: hosts of schema versions 3 to 6 call weft_fence(owner,
-- generation), which reads part 0 as before, and write tokens whose part
-- is 0 by default.
CREATE FUNCTION weft_fence(p_part integer, p_owner text, p_generation bigint) RETURNS void AS $$
DECLARE
    held_by text;
    held_at bigint;
BEGIN
    SELECT owner, generation INTO held_by, held_at
      FROM weft_leases WHERE part = p_part FOR KEY SHARE;
    IF held_by IS DISTINCT FROM p_owner OR held_at IS DISTINCT FROM p_generation THEN
        RAISE EXCEPTION 'weft host % wrote to partition % at lease generation %, but generation % is held by %',
            p_owner, p_part, p_generation, held_at, held_by
            USING ERRCODE = 'WF001';
    END IF;
END
$$ LANGUAGE plpgsql;
ALTER TABLE weft_lease_log DROP CONSTRAINT weft_lease_log_pkey,
    ADD PRIMARY KEY (part, generation);
ALTER TABLE weft_commit_tokens ADD COLUMN part integer NOT NULL DEFAULT 0;
-- Each partition forgets its tokens by the database's clock (committed_at,
-- set at each insert since version 2), not by their values.
CREATE INDEX weft_commit_tokens_forget ON weft_commit_tokens (part, committed_at);
CREATE TABLE weft_directory (k0 bytea PRIMARY KEY, v bigint NOT NULL);
