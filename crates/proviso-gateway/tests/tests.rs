//! Gateway tests that need no network: the docs cover every error code,
//! and the router answers health and unknown routes in OpenAI's format.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

mod docs {
    /// Guards against an error code added in code but not documented.
    #[test]
    fn every_error_code_is_documented() {
        use proviso_gateway::error::ErrorCode;
        let docs = include_str!("../../../docs/errors.md");
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for c in [
            "model_not_found",
            "client_disconnected",
            "invalid_admin_token",
        ] {
            assert!(codes.contains(&c), "{c}");
        }
        for c in codes {
            assert!(
                docs.contains(&format!("`{c}`")),
                "docs/errors.md does not document `{c}`"
            );
        }
    }

    /// Guards against an admin route added without its OpenAPI description.
    #[test]
    fn every_admin_route_is_in_the_openapi_file() {
        let spec = include_str!("../../../docs/openapi.yaml");
        let src = include_str!("../src/admin.rs");
        let routes: Vec<&str> = src
            .split(".route(\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert!(routes.len() >= 10);
        for r in routes {
            assert!(
                spec.contains(&format!("  {r}:")),
                "docs/openapi.yaml lacks {r}"
            );
        }
    }
}

mod router {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use proviso_access::KeyStore;
    use proviso_gateway::config::{GatewayConfig, UpstreamConfig};
    use proviso_ledger::{LedgerHandle, MemoryStore, WriterConfig};
    use tower::ServiceExt;

    fn app() -> (axum::Router, tempfile::TempDir, MemoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::open(&dir.path().join("keys.db")).unwrap();
        let store = MemoryStore::default();
        let ledger = LedgerHandle::spawn(Box::new(store.clone()), WriterConfig::default()).unwrap();
        let cfg = GatewayConfig {
            upstreams: vec![UpstreamConfig::default_openai(None)],
            ..GatewayConfig::default()
        };
        let state = proviso_gateway::state(cfg, ledger, keys).unwrap();
        (proviso_gateway::app(state), dir, store)
    }

    async fn json(resp: axum::response::Response) -> serde_json::Value {
        let b = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&b).unwrap()
    }

    #[tokio::test]
    async fn health_and_readiness() {
        let (app, _d, _s) = app();
        let r = app
            .clone()
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.unwrap().status(), StatusCode::OK);
        let r = app
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unauthenticated_chat_is_401_and_recorded() {
        let (app, _d, store) = app();
        let req = Request::post("/v1/chat/completions")
            .body(Body::from("{}"))
            .unwrap();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().contains_key("x-proviso-record-id"));
        let v = json(r).await;
        assert_eq!(v["error"]["code"], "missing_api_key");
        let recs = store.with_records(|r| r.clone());
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].record.error_code.as_deref(),
            Some("missing_api_key")
        );
    }

    #[tokio::test]
    async fn unknown_route_is_openai_404() {
        let (app, _d, _s) = app();
        let r = app
            .oneshot(Request::get("/v2/x").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(json(r).await["error"]["code"], "not_found");
    }
}
