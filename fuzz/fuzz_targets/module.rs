//! Inspecting bytes as a module to deploy never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft::fuzz::module(data);
});
