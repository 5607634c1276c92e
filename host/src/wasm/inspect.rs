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

/// The version of the `weft:workflow` contract this host provides (the
/// package version in `wit/weft.wit`). Components built against an earlier
/// 0.1.x link to it as they stand; one built against a later version is
/// refused by name.
pub const CONTRACT_VERSION: &str = "0.1.3";

/// The first `weft:workflow` import of `component` whose version is newer
/// than [`CONTRACT_VERSION`], with that version.
pub fn newer_contract(engine: &Engine, component: &Component) -> Option<(String, String)> {
    let ours = parse_version(CONTRACT_VERSION)?;
    component
        .component_type()
        .imports(engine)
        .find_map(|(name, _)| {
            let (_, version) = name.strip_prefix("weft:workflow/")?.split_once('@')?;
            (parse_version(version)? > ours).then(|| (name.to_owned(), version.to_owned()))
        })
}

/// The newest `weft:workflow` contract `component` imports (`None`: it
/// imports none of its interfaces).
pub fn contract_needed(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| {
            let (_, version) = name.strip_prefix("weft:workflow/")?.split_once('@')?;
            Some((parse_version(version)?, version.to_owned()))
        })
        .max()
        .map(|(_, version)| version)
}

/// Whether a host providing contract `have` runs a component that needs
/// `need` (a version it cannot read runs nothing).
pub fn provides(have: &str, need: &str) -> bool {
    match (parse_version(have), parse_version(need)) {
        (Some(have), Some(need)) => have >= need,
        _ => false,
    }
}

/// `major.minor.patch`, without pre-release tags.
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The version the host names is the one its WIT declares.
    #[test]
    fn the_contract_version_is_the_wit_package_version() {
        let wit = include_str!("../../../wit/weft.wit");
        assert!(
            wit.contains(&format!("package weft:workflow@{CONTRACT_VERSION};")),
            "wit/weft.wit declares another version than CONTRACT_VERSION"
        );
        assert_eq!(parse_version("0.1.10"), Some((0, 1, 10)));
        assert!(parse_version("0.1.9").unwrap() > parse_version(CONTRACT_VERSION).unwrap());
        assert!(provides("0.1.3", "0.1.3") && provides("0.1.10", "0.1.9"));
        assert!(!provides("0.1.2", "0.1.3") && !provides("x", "0.1.3"));
        assert_eq!(parse_version("0.2.0-rc1"), None);
    }
}
