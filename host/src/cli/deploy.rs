//! `weft deploy FILE.wasm [--name NAME]`.

use std::path::Path;

use anyhow::{Context, Result};

use super::client::{enc, Client};
use crate::api::dto::ModuleInfo;
use crate::model::ModuleKind;

pub async fn run(client: &Client, file: &Path, name: Option<String>) -> Result<i32> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    // The type name defaults to the file's stem: `hello.wasm` deploys `hello`.
    let name = name.or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()));
    let path = match &name {
        Some(n) => format!("/v1/modules?name={}", enc(n)),
        None => "/v1/modules".to_owned(),
    };
    let info: ModuleInfo = client.post_bytes(&path, bytes).await?;
    match info.kind {
        ModuleKind::Workflow => {
            println!(
                "workflow type {} -> module {}",
                info.workflow_type.unwrap_or_default(),
                info.hash
            )
        }
        ModuleKind::Activity => println!(
            "activities {} -> module {}",
            info.activities.join(", "),
            info.hash
        ),
    }
    Ok(0)
}
