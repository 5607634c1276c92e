//! The instance pool: every instance lives in a slot reserved once at start
//! (its linear memory, tables and async stack). Taking a slot is a few
//! bookkeeping steps and resetting one is an `madvise` of the pages a guest
//! dirtied, instead of mapping and unmapping gigabytes of address space per
//! instance, whose TLB shootdowns stall every core of a busy host.
//!
//! A slot must fit any component weft accepts: Rust components have three
//! core modules, componentize-py's fourteen, componentize-js's four; each has
//! one linear memory and two tables (CPython's and SpiderMonkey's hold 5,000
//! to 8,000 functions).

use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig};

/// Linear memories one component may have.
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may have (across its core modules).
pub const TABLES_PER_COMPONENT: u32 = 4;
/// Elements of one table.
pub const TABLE_ELEMENTS: usize = 50_000;
/// Core instances one component may create.
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Bytes of a memory reset by `memset` rather than `madvise` when its slot
/// is freed: a small guest's dirty pages stay mapped for the next instance.
const KEEP_RESIDENT: usize = 0;

pub fn strategy(slots: u32) -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_tables_per_module(2)
        .table_elements(TABLE_ELEMENTS)
        .total_stacks(slots)
        .max_component_instance_size(4 << 20)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(0);
    InstanceAllocationStrategy::Pooling(pool)
}
