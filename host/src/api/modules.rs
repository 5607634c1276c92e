//! `/v1/modules` and `/v1/workflow-types`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{DeployQuery, ModuleInfo, ModuleList, WorkflowTypeInfo, WorkflowTypeList};
use super::error::{rejection, ApiError, ErrorBody};
use crate::engine::Engine;

/// Deploy a component: a workflow (registers the type `name`) or an activity
/// component (registers the activities it serves).
#[utoipa::path(
    post, path = "/v1/modules", tag = "modules",
    params(DeployQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "the component's bytes"),
    responses(
        (status = 201, body = ModuleInfo),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
pub async fn deploy(
    State(engine): State<Engine>,
    query: Result<Query<DeployQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ModuleInfo>), ApiError> {
    let Query(query) = query.map_err(|r| rejection(r.status(), r.body_text()))?;
    let body = body.map_err(|r| rejection(r.status(), r.body_text()))?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty: send the component's bytes",
        ));
    }
    let meta = engine.deploy(body.to_vec(), query.name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(meta.into())))
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
        .map(|(name, module)| WorkflowTypeInfo {
            name: name.to_string(),
            current_module: module.to_string(),
        })
        .collect();
    Ok(Json(WorkflowTypeList { workflow_types }))
}
