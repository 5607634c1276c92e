//! `/v1/workflow-types/{name}/...`: versions, the current pointer, upgrades.

use axum::extract::{Path, State};
use axum::Json;

use super::dto::{
    CurrentVersion, SetCurrentRequest, UpgradeReportInfo, UpgradeRequest, VersionInfo, VersionList,
};
use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use crate::engine::Engine;

/// The versions of a workflow type, oldest first, with how many executions
/// run on each.
#[utoipa::path(
    get, path = "/v1/workflow-types/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "workflow type")),
    responses((status = 200, body = VersionList), (status = 404, body = ErrorBody))
)]
pub async fn list(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    let versions = engine
        .versions(&name)?
        .into_iter()
        .map(VersionInfo::from)
        .collect();
    Ok(Json(VersionList {
        workflow_type: name,
        versions,
    }))
}

/// Point the type at one of its versions: new executions start on it;
/// running ones stay on theirs.
#[utoipa::path(
    put, path = "/v1/workflow-types/{name}/current", tag = "versions",
    params(("name" = String, Path, description = "workflow type")),
    request_body = SetCurrentRequest,
    responses((status = 200, body = CurrentVersion), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn set_current(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Body(req): Body<SetCurrentRequest>,
) -> Result<Json<CurrentVersion>, ApiError> {
    let v = engine.set_current(&name, &req.version.to_string()).await?;
    Ok(Json(CurrentVersion {
        workflow_type: name,
        version: v.version,
        module: v.module.to_string(),
    }))
}

/// Replay every running or stalled execution of the type (or `ids`) against
/// version `to`; move those that replay cleanly (each atomically), report
/// the others with their first divergence. `dry_run` moves nothing.
#[utoipa::path(
    post, path = "/v1/workflow-types/{name}/upgrade", tag = "versions",
    params(("name" = String, Path, description = "workflow type")),
    request_body = UpgradeRequest,
    responses((status = 200, body = UpgradeReportInfo), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn upgrade(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Body(req): Body<UpgradeRequest>,
) -> Result<Json<UpgradeReportInfo>, ApiError> {
    let report = engine
        .upgrade(&name, &req.to.to_string(), req.dry_run, req.ids.as_deref())
        .await?;
    Ok(Json(report.into()))
}
