//! Decoding and replaying an exported history never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft::fuzz::history(data);
});
