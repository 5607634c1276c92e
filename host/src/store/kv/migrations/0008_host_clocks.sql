-- weft schema version 8: the clock each host runs on (weft_hosts.manual_clock:
-- true for a host started with --manual-clock, false for one on the system
-- clock), written when it joins, so that a host whose clock is not the live
-- hosts' is refused by name (executions of one store see one time). An
-- expand step: hosts of schema versions 3 to 7 neither read nor write it,
-- and their rows read as not saying (NULL).
ALTER TABLE weft_hosts ADD COLUMN manual_clock boolean;
