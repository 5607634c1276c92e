-- weft schema version 6: the run and epoch each deleted execution reached
-- (host/src/store/tables.rs RETIRED), so that a later execution under its
-- id goes on from them and repeats no identity the deleted one made. An
-- expand step: hosts of schema versions 3 to 5 neither read nor write it,
-- and run beside those of 6 (an execution they delete leaves no row, and
-- one started again under its id begins at run 1, as before).
CREATE TABLE weft_retired (k0 bytea PRIMARY KEY, v bytea NOT NULL);
