//! `/v1/modules` and `/v1/workflow-types`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{
    DeployQuery, ModuleInfo, ModuleList, PruneReport, PruneRequest, PrunedModule, RetentionInfo,
    RetentionRequest, WorkflowTypeInfo, WorkflowTypeList,
};
use super::error::{rejection, ApiError, ErrorBody};
use super::extract::Body;
use super::extract::Params;
use crate::engine::Engine;
use crate::model::{DirDoor, Doors};

/// One module: what it is, what it serves, and the doors opened for it.
#[utoipa::path(
    get, path = "/v1/modules/{hash}", tag = "modules",
    params(("hash" = String, Path, description = "sha-256 of the module (or a prefix of 8+ digits)")),
    responses((status = 200, body = ModuleInfo), (status = 404, body = ErrorBody))
)]
pub async fn describe(
    State(engine): State<Engine>,
    Path(hash): Path<String>,
) -> Result<Json<ModuleInfo>, ApiError> {
    let hash = hash.to_ascii_lowercase();
    let found: Vec<_> = engine
        .modules()?
        .into_iter()
        .filter(|m| hash.len() >= 8 && m.hash.to_string().starts_with(&hash))
        .collect();
    match <[_; 1]>::try_from(found) {
        Ok([m]) => Ok(Json(m.into())),
        Err(_) if hash.len() < 8 => Err(ApiError::bad_request(format!(
            "{hash:?} is too short: give the module's hash or at least its first 8 digits \
             (see `weft modules`)"
        ))),
        Err(v) if v.is_empty() => Err(ApiError::not_found(format!(
            "no module {hash:?}: see `weft modules` (GET /v1/modules)"
        ))),
        Err(_) => Err(ApiError::bad_request(format!(
            "{hash:?} matches several modules: give more of the hash"
        ))),
    }
}

/// Deploy a component: a workflow (registers the type `name`) or an activity
/// component (registers the activities it serves).
#[utoipa::path(
    post, path = "/v1/modules", tag = "modules",
    params(DeployQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "the component's bytes"),
    responses(
        (status = 201, body = ModuleInfo),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn deploy(
    State(engine): State<Engine>,
    Params(query): Params<DeployQuery>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ModuleInfo>), ApiError> {
    // `env` and `dir` repeat: read them from the raw query.
    let mut doors = Doors::default();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "env" => doors.env.push(v.into_owned()),
            "http" => doors.http.push(v.into_owned()),
            "dir" => doors
                .dirs
                .push(DirDoor::parse(&v).map_err(ApiError::bad_request)?),
            _ => {}
        }
    }
    let body = body.map_err(|r| rejection(r.status(), r.body_text()))?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty: send the component's bytes",
        ));
    }
    let deployed = engine
        .deploy(
            body.to_vec(),
            query.name.as_deref(),
            doors,
            query.replace_activities,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(deployed.into())))
}

#[utoipa::path(get, path = "/v1/modules", tag = "modules", responses((status = 200, body = ModuleList)))]
pub async fn list(State(engine): State<Engine>) -> Result<Json<ModuleList>, ApiError> {
    let modules = engine
        .modules()?
        .into_iter()
        .map(ModuleInfo::from)
        .collect();
    Ok(Json(ModuleList { modules }))
}

#[utoipa::path(get, path = "/v1/workflow-types", tag = "modules", responses((status = 200, body = WorkflowTypeList)))]
pub async fn workflow_types(
    State(engine): State<Engine>,
) -> Result<Json<WorkflowTypeList>, ApiError> {
    let workflow_types = engine
        .workflow_types()?
        .into_iter()
        .map(|(name, module)| {
            Ok(WorkflowTypeInfo {
                retention_ms: engine.retention_of(name.as_str())?,
                name: name.to_string(),
                current_module: module.to_string(),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(WorkflowTypeList { workflow_types }))
}

/// Delete the modules nothing refers to: activity components that serve no
/// name any more, and workflow versions that are not current and that no
/// kept execution runs on.
#[utoipa::path(
    post, path = "/v1/modules/prune", tag = "modules",
    request_body = PruneRequest,
    responses((status = 200, body = PruneReport))
)]
pub async fn prune(
    State(engine): State<Engine>,
    Body(req): Body<PruneRequest>,
) -> Result<Json<PruneReport>, ApiError> {
    let pruned = engine
        .prune_modules(req.dry_run)
        .await?
        .into_iter()
        .map(|p| PrunedModule {
            module: p.module.to_string(),
            what: p.what,
        })
        .collect();
    Ok(Json(PruneReport {
        dry_run: req.dry_run,
        pruned,
    }))
}

/// Set how long a workflow type's closed executions are kept (null: the
/// host's `--retention`).
#[utoipa::path(
    put, path = "/v1/workflow-types/{name}/retention", tag = "modules",
    params(("name" = String, Path, description = "workflow type")),
    request_body = RetentionRequest,
    responses((status = 200, body = RetentionInfo), (status = 404, body = ErrorBody))
)]
pub async fn set_retention(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Body(req): Body<RetentionRequest>,
) -> Result<Json<RetentionInfo>, ApiError> {
    engine
        .set_retention(
            &name,
            req.retention_ms.map(std::time::Duration::from_millis),
        )
        .await?;
    Ok(Json(RetentionInfo {
        retention_ms: engine.retention_of(&name)?,
        workflow_type: name,
    }))
}
