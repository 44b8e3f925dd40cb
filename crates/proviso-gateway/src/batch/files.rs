//! `/v1/files`: a key's batch input files and its batches' results. Only
//! purpose `batch` is taken; an upload is read as a batch input at once, so
//! a malformed file is refused with its line numbers before any batch is
//! made of it. Files are served only to the key that owns them; another
//! key is told there is no such file.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use proviso_batch::FileInfo;
use serde_json::json;

use crate::batch::{Caller, answer, blocking, caller, now_s, page, page_of};
use crate::error::ApiError;
use crate::pipeline::record;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Answers `err` for a caller, recorded.
async fn refuse(state: &AppState, c: &mut Caller, err: ApiError) -> Response {
    record::refuse(state, &mut c.ctx, err).await
}

/// `POST /v1/files` (multipart: `purpose`, `file`).
pub(crate) async fn upload(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let peer = crate::handlers::peer(&req);
    let (parts, body) = req.into_parts();
    let mut c = match caller(&s, Endpoint::Files, &parts.headers, peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let req = axum::extract::Request::from_parts(parts, body);
    let max = c.batches.config.max_file_bytes;
    let (purpose, name, bytes) = match read_upload(req, max).await {
        Ok(u) => u,
        Err(e) => return refuse(&s, &mut c, e).await,
    };
    if purpose != "batch" {
        let e = ApiError::invalid_field(
            "purpose",
            "only files of purpose \"batch\" are taken by this gateway (fine-tuning, assistants and vision files are not governed here)",
        );
        return refuse(&s, &mut c, e).await;
    }
    let limits = crate::batch::limits(&s, &c.batches);
    let (checked, bytes) = match tokio::task::spawn_blocking(move || {
        (
            proviso_batch::input::parse(&bytes, limits).map(|_| ()),
            bytes,
        )
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return refuse(&s, &mut c, ApiError::internal(e)).await,
    };
    if let Err(e) = checked {
        let lines = match &e {
            proviso_batch::InputError::Lines { lines, .. } => lines
                .iter()
                .map(|l| json!({"line": l.line, "custom_id": l.custom_id, "message": l.message}))
                .collect(),
            _ => Vec::new(),
        };
        return refuse(&s, &mut c, ApiError::invalid_file(&e.to_string(), lines)).await;
    }
    let info = FileInfo::new(&c.key.id.0, "batch", &name, &bytes, now_s(&s));
    let stored = info.clone();
    if let Err(e) = blocking(&c.batches.store, move |st| st.put_file(&stored, &bytes)).await {
        return refuse(&s, &mut c, e).await;
    }
    Json(info.object()).into_response()
}

/// The upload's `purpose`, file name and bytes.
async fn read_upload(
    req: axum::extract::Request,
    max: usize,
) -> Result<(String, String, Vec<u8>), ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::invalid_field("file", &e.body_text()))?;
    let (mut purpose, mut file) = (None, None);
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::too_large(max));
            }
            Err(e) => return Err(ApiError::invalid_field("file", &e.body_text())),
        };
        match field.name() {
            Some("purpose") => {
                purpose = Some(
                    field
                        .text()
                        .await
                        .map_err(|e| ApiError::invalid_field("purpose", &e.body_text()))?,
                );
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.jsonl").to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::too_large(max)
                    } else {
                        ApiError::invalid_field("file", &e.body_text())
                    }
                })?;
                if bytes.len() > max {
                    return Err(ApiError::too_large(max));
                }
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    let purpose = purpose.ok_or_else(|| ApiError::missing_field("purpose"))?;
    let (name, bytes) = file.ok_or_else(|| ApiError::missing_field("file"))?;
    Ok((purpose, name, bytes))
}

/// The file `id` if `c`'s key owns it.
pub(crate) async fn owned(c: &Caller, id: &str) -> Result<FileInfo, ApiError> {
    let key = c.key.id.0.clone();
    let want = id.to_owned();
    blocking(&c.batches.store, move |st| st.file(&want))
        .await?
        .filter(|f| f.key_id == key)
        .ok_or_else(|| ApiError::object_not_found("file", id, "file_id"))
}

/// `GET /v1/files`.
pub(crate) async fn list_files(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let query = req.uri().query().map(str::to_owned);
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Files, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async {
        let (limit, after) = page(query.as_deref())?;
        let purpose = query.as_deref().and_then(|q| {
            q.split('&')
                .find_map(|p| p.strip_prefix("purpose="))
                .map(str::to_owned)
        });
        let key = c.key.id.0.clone();
        let found = blocking(&c.batches.store, move |st| {
            st.files(&key, after.as_deref(), limit + 1, purpose.as_deref())
        })
        .await?;
        Ok(Json(page_of(found, limit, FileInfo::object)).into_response())
    }
    .await;
    answer(&s, c, out).await
}

/// `GET /v1/files/{id}`.
pub(crate) async fn get_file(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Files, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async { Ok(Json(owned(&c, &id).await?.object()).into_response()) }.await;
    answer(&s, c, out).await
}

/// `GET /v1/files/{id}/content`.
pub(crate) async fn file_content(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Files, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async {
        let info = owned(&c, &id).await?;
        let bytes = blocking(&c.batches.store, move |st| st.file_bytes(&info.id)).await?;
        Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
    }
    .await;
    answer(&s, c, out).await
}

/// `DELETE /v1/files/{id}`.
pub(crate) async fn delete_file(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Files, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async {
        let info = owned(&c, &id).await?;
        blocking(&c.batches.store, move |st| st.delete_file(&info.id)).await?;
        Ok(Json(json!({"id": id, "object": "file", "deleted": true})).into_response())
    }
    .await;
    answer(&s, c, out).await
}
