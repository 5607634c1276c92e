//! End-to-end tests: each builds on the example components, starts a real
//! `weft` host process and drives it through its HTTP API and its CLI.
//! Run them with `cargo xtask test`.

mod activities;
mod actors;
mod api;
mod bad_input;
mod basics;
mod cluster;
mod composition;
mod corners;
mod crashloop;
mod determinism;
mod durability;
mod endings;
mod golden;
mod golden_schedules;
mod golden_search;
mod hangs;
mod https;
mod js;
mod packages;
mod partitions;
mod postgres;
mod projects;
mod python;
mod reliability;
mod replay;
mod retention;
mod sandbox;
mod schedules;
mod search;
mod storage;
mod testing;
mod ui;
mod verify;
mod versioning;
