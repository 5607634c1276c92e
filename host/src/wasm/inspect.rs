//! Tells a workflow component from an activity component, and refuses
//! anything else with an error that names the problem.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

use super::ModuleError;
use crate::model::ModuleKind;

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Checks the header before compiling, so the common mistakes get a precise answer.
pub fn check_header(bytes: &[u8]) -> Result<(), ModuleError> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(ModuleError::NotWasm);
    }
    if bytes[4..8] == CORE_VERSION {
        return Err(ModuleError::CoreModule);
    }
    Ok(())
}

/// Which world the component targets, judged by its exports.
pub fn classify(engine: &Engine, component: &Component) -> Result<ModuleKind, ModuleError> {
    let ty = component.component_type();
    let mut funcs = Vec::new();
    for (name, item) in ty.exports(engine) {
        if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
            funcs.push(name.to_owned());
        } else {
            funcs.push(format!("{name} (not a function)"));
        }
    }
    let has = |n: &str| funcs.iter().any(|f| f == n);
    if has("run") {
        Ok(ModuleKind::Workflow)
    } else if has("execute") && has("activities") {
        Ok(ModuleKind::Activity)
    } else {
        Err(ModuleError::UnknownWorld { exports: funcs })
    }
}

/// Everything a deploy learns from the bytes alone, synchronously: the
/// header, the parse and compile, the world. The entry point of the module
/// fuzz target; never panics, whatever the bytes.
pub fn inspect_bytes(bytes: &[u8]) -> Result<ModuleKind, ModuleError> {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    check_header(bytes)?;
    let engine = ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).expect("a default engine")
    });
    let component =
        Component::new(engine, bytes).map_err(|e| ModuleError::Invalid(super::error_chain(&e)))?;
    classify(engine, &component)
}
