//! The WASI interfaces a workflow gets from weft rather than from
//! wasmtime-wasi, linked over wasmtime-wasi's in the workflow linker only
//! (activities keep real WASI):
//!
//! - `wasi:random/{random,insecure,insecure-seed}` draw from the run's pinned
//!   streams ([`crate::wasm::random`]), or from a throwaway stream while a
//!   request is being answered, so a query never moves what the run draws.

use wasmtime::component::{HasData, Linker};
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

use super::WfState;
use crate::wasm::random::Streams;

struct HasRandom;

impl HasData for HasRandom {
    type Data<'a> = &'a mut Streams;
}

/// Links these interfaces over the ones `wasmtime_wasi::p2::add_to_linker_async`
/// put in `linker`.
pub(super) fn shadow_wasi(linker: &mut Linker<WfState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    random::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    insecure::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    insecure_seed::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The largest `get-random-bytes` a guest may ask for: wasmtime-wasi's limit,
/// beyond which it trapped (kept, so old runs behave the same).
const MAX_RANDOM_BYTES: u64 = wasmtime_wasi::random::DEFAULT_MAX_SIZE;

fn random_len(len: u64) -> wasmtime::Result<usize> {
    if len > MAX_RANDOM_BYTES {
        wasmtime::bail!("requested len {len} exceeds limit {MAX_RANDOM_BYTES}");
    }
    Ok(len as usize)
}

impl random::Host for Streams {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        Ok(self.secure().bytes(random_len(len)?))
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.secure().next_u64())
    }
}

impl insecure::Host for Streams {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        Ok(self.insecure().bytes(random_len(len)?))
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.insecure().next_u64())
    }
}

impl insecure_seed::Host for Streams {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        Ok(Streams::insecure_seed(self))
    }
}
