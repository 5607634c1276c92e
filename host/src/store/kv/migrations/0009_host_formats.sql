-- weft schema version 9: the cluster format each host speaks
-- (weft_hosts.format; host/src/store/kv/assign.rs FORMAT) and the start it
-- was written at (format_started): it holds only while that is the row's
-- started_at, since a host of an older release rejoining under the same id
-- moves started_at and leaves both as they were. Hosts sharing a store of
-- several partitions run at the lowest format of those that count in the
-- assignment. An expand step: hosts of schema versions 3 to 8 neither read
-- nor write them, and their rows read as format 0.
ALTER TABLE weft_hosts ADD COLUMN format integer, ADD COLUMN format_started timestamptz;
