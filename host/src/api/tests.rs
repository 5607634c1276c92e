//! The router against a real engine on a scratch directory: bad input is a
//! 4xx with a message that names the problem, and changes nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::router;
use crate::engine::{Engine, EngineConfig};

async fn engine(dir: &std::path::Path) -> Engine {
    let mut config = EngineConfig::new(dir.to_path_buf());
    config.manual_clock = true;
    Engine::open(config).await.unwrap()
}

async fn call(engine: &Engine, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = router(
        engine.clone(),
        super::Access::default(),
        super::Guard::default(),
    )
    .oneshot(req)
    .await
    .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn deploy(bytes: &[u8]) -> Request<Body> {
    Request::post("/v1/modules?name=x")
        .body(Body::from(bytes.to_vec()))
        .unwrap()
}

fn message(body: &serde_json::Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bad_modules_are_refused_with_the_reason_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let cases: [(&[u8], &str); 4] = [
        (b"hello, I am text", "not a WebAssembly file"),
        (b"\0asm\x01\0\0\0", "core WebAssembly module"),
        (b"\0asm\x0d\0\x01\0", "targets neither weft world"),
        (b"\0asm\x0d\0\x01\0\x07\xff", "malformed or truncated"),
    ];
    for (bytes, expected) in cases {
        let (status, body) = call(&engine, deploy(bytes)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid-module");
        assert!(
            message(&body).contains(expected),
            "{expected:?} not in {body}"
        );
    }
    let (status, body) = call(
        &engine,
        Request::get("/v1/modules").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["modules"], serde_json::json!([]));
}

#[tokio::test]
async fn unknown_types_ids_and_malformed_json_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let start = |body: &str| {
        Request::post("/v1/executions")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, body) = call(&engine, start(r#"{"workflow_type":"nope"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("\"nope\""), "{body}");

    let (status, body) = call(&engine, start("{nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad-request");

    let (status, _) = call(&engine, start(r#"{"workflow_type":"bad/name"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for path in [
        "/v1/executions/wf_missing",
        "/v1/executions/wf_missing/result",
        "/v1/executions/wf_missing/history",
    ] {
        let (status, body) = call(&engine, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(message(&body).contains("wf_missing"));
    }
    let (status, _) = call(
        &engine,
        Request::get("/v1/executions?status=weird")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = call(
        &engine,
        Request::get("/v1/executions").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["executions"], serde_json::json!([]));
}

#[tokio::test]
async fn openapi_document_lists_the_routes_and_clock_moves_when_manual() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let (status, doc) = call(
        &engine,
        Request::get("/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/modules",
        "/v1/executions",
        "/v1/executions/{id}/result",
        "/v1/executions/{id}/history",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every parameter is where it is read: a `{name}` of the path in the
    // path, the others in the query string (they were all declared as
    // required path parameters, so generated clients put them in the path).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                let want = if in_path { "path" } else { "query" };
                assert_eq!(p["in"], want, "{method} {path} parameter {name}");
                if !in_path {
                    assert_ne!(p["required"], true, "{method} {path} parameter {name}");
                }
            }
        }
    }
    let (_, before) = call(
        &engine,
        Request::get("/v1/clock").body(Body::empty()).unwrap(),
    )
    .await;
    let advance = Request::post("/v1/clock/advance")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"ms":3600000}"#))
        .unwrap();
    let (status, after) = call(&engine, advance).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        after["now_ms"].as_u64().unwrap(),
        before["now_ms"].as_u64().unwrap() + 3_600_000
    );
}
