//! The data plane's jobs routes over real HTTP against a real Manager: each shape under
//! `…/jobs` answers as documented, with the key checked before the method and the path
//! before the key, and every error closing the connection.

mod common;

use common::{error_code, vllm_workload, Harness};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn jobs_routes_answer_every_shape() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    h.create("acme", &sdk, vllm_workload("chat")).await;
    let key = h.key("acme", None).await;
    let base = "/endpoint/acme/chat/jobs";

    // Both spellings of the submit route queue a job.
    for path in [base.to_string(), format!("{base}/")] {
        let (s, j) = h
            .post(
                &path,
                &key,
                json!({"kind": "chat_completions", "body": {"model": "m", "messages": []}}),
            )
            .await;
        assert_eq!(s, 202, "{path}: {j}");
        assert!(j["job_id"].is_string(), "{j}");
    }
    let (_, j) = h
        .post(
            base,
            &key,
            json!({"kind": "chat_completions", "body": {"model": "m", "messages": []}}),
        )
        .await;
    let id = j["job_id"].as_str().unwrap().to_string();
    let (s, job) = h.get(&format!("{base}/{id}"), &key).await;
    assert_eq!(
        (s, job["job_id"].as_str()),
        (200, Some(id.as_str())),
        "{job}"
    );
    let (s, body) = h.get(&format!("{base}/job_nope"), &key).await;
    assert_eq!((s, error_code(&body)), (404, "not_found"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no job \"job_nope\" for workload \"chat\""));

    // Any other method or shape is the jobs routes' own 405, naming the two routes.
    for (method, rest) in [
        (Method::GET, "jobs".to_string()),
        (Method::GET, "jobs/".to_string()),
        (Method::DELETE, "jobs".to_string()),
        (Method::POST, format!("jobs/{id}")),
        (Method::PUT, format!("jobs/{id}")),
        (Method::GET, format!("jobs/{id}/")),
        (Method::GET, format!("jobs/{id}/more")),
    ] {
        let (s, body) = h
            .call(
                method.clone(),
                &format!("/endpoint/acme/chat/{rest}"),
                &key,
                None,
            )
            .await;
        assert_eq!(
            (s, error_code(&body)),
            (405, "method_not_allowed"),
            "{rest}"
        );
        assert_eq!(
            body["error"]["message"],
            format!("{method} /{rest} is not a jobs route; use POST /jobs or GET /jobs/{{job_id}}")
        );
    }
    // HEAD is not served by the GET handler.
    let resp = h
        .http
        .head(format!("{}{base}/{id}", h.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    // The key is checked before the method, and every error closes the connection.
    let resp = h.http.get(format!("{}{base}", h.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["connection"], "close");
    let (s, body) = h.get(base, &sdk).await;
    assert_eq!((s, error_code(&body)), (403, "wrong_credential_type"));
    let other = h.key("acme", Some("other")).await;
    let (s, body) = h.get(&format!("{base}/{id}"), &other).await;
    assert_eq!((s, error_code(&body)), (403, "scope_insufficient"));

    // The path is checked before the key: a path that does not decode is a 400 even unkeyed.
    let resp = h
        .http
        .get(format!("{}{base}/%FF", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // And a job id may not smuggle a `/` past the route.
    let (s, body) = h.get(&format!("{base}/a%2Fb"), &key).await;
    assert_eq!((s, error_code(&body)), (400, "validation_failed"), "{body}");

    h.stop().await;
}
