-- weft schema version 3: the type of each search attribute name, host-wide
-- (host/src/store/tables.rs SEARCH_TYPES).
CREATE TABLE weft_search_types (k0 bytea PRIMARY KEY, v bytea NOT NULL);
