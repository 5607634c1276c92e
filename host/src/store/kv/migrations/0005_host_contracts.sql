-- weft schema version 5: the weft:workflow contract each host runs
-- (weft_hosts.contract), and the start it was written at
-- (contract_started): it holds only while that is the row's started_at,
-- since a host of an older release rejoining under the same id moves
-- started_at and leaves both as they were. A deploy of a component that
-- imports a newer contract than a live host runs is refused. An expand
-- step: hosts of schema versions 3 and 4 neither read nor write them, and
-- their rows read as contract 0.1.3 (the contract of every release on
-- schema 3 or newer).
ALTER TABLE weft_hosts ADD COLUMN contract text, ADD COLUMN contract_started timestamptz;
