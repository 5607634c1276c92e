//! Generated bindings for the two worlds of `wit/weft.wit`, alone in this file.

pub mod workflow {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weft:workflow/workflow",
        imports: {
            // The one blocking import: it suspends the guest's fiber while the
            // engine waits for the next event.
            "weft:workflow/runtime.wait": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

pub mod activity {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weft:workflow/activity",
        imports: { default: trappable },
        exports: { default: async },
    });
}
