//! The Runtime API double and the Invoke API double on their own, driven by a plain HTTP
//! client playing the function's runtime (no binary, no AWS).

use lambda_e2e::{
    API_PREFIX, ErrorReport, FunctionConfig, InvokeApiDouble, InvokeError, Outcome, RuntimeDouble,
};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

async fn double(timeout: Duration) -> RuntimeDouble {
    RuntimeDouble::start_with(FunctionConfig {
        function_arn: ARN.into(),
        timeout,
    })
    .await
    .expect("double")
}

fn url(double: &RuntimeDouble, path: &str) -> String {
    format!("http://{}{API_PREFIX}{path}", double.runtime_api())
}

/// One `next`: the event and the request id, after checking Lambda's headers.
async fn next(http: &reqwest::Client, double: &RuntimeDouble) -> (Value, String) {
    let response = http
        .get(url(double, "/invocation/next"))
        .send()
        .await
        .expect("next");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let id = header("lambda-runtime-aws-request-id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(header("lambda-runtime-invoked-function-arn"), ARN);
    assert!(header("lambda-runtime-trace-id").starts_with("Root=1-"));
    let deadline: u128 = header("lambda-runtime-deadline-ms").parse().expect("ms");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    assert!(
        deadline > now && deadline <= now + 30_000,
        "deadline {deadline} vs now {now}"
    );
    (response.json().await.expect("JSON event"), id)
}

#[tokio::test]
async fn hands_out_events_and_returns_responses_and_errors() {
    let double = double(Duration::from_secs(30)).await;
    assert!(double.first_next_at().is_none());
    let http = reqwest::Client::new();
    let runtime = {
        let (http, double) = (http.clone(), double.clone());
        tokio::spawn(async move {
            let (event, id) = next(&http, &double).await;
            let answer = http
                .post(url(&double, &format!("/invocation/{id}/response")))
                .json(&json!({"echo": event}))
                .send()
                .await
                .expect("response");
            assert_eq!(answer.status(), 202);
            let (_, id) = next(&http, &double).await;
            let answer = http
                .post(url(&double, &format!("/invocation/{id}/error")))
                .header("lambda-runtime-function-error-type", "Runtime.Boom")
                .json(&json!({"errorType": "Boom", "errorMessage": "it broke"}))
                .send()
                .await
                .expect("error");
            assert_eq!(answer.status(), 202);
            // An id the double never handed out.
            let answer = http
                .post(url(&double, "/invocation/not-an-id/response"))
                .body("{}")
                .send()
                .await
                .expect("response");
            assert_eq!(answer.status(), 400);
        })
    };
    let first = double.invoke(&json!({"n": 1})).await.expect("result");
    assert_eq!(first.json(), Some(json!({"echo": {"n": 1}})));
    assert!(double.first_next_at().is_some() && double.init_time().is_some());
    let second = double.invoke(&json!({"n": 2})).await.expect("result");
    assert_eq!(
        second.outcome,
        Outcome::FunctionError(ErrorReport {
            error_type: "Boom".into(),
            error_message: "it broke".into(),
        })
    );
    assert!(second.is_function_error() && second.json().is_none());
    assert_ne!(first.request_id, second.request_id);
    runtime.await.expect("runtime side");
}

#[tokio::test]
async fn an_init_error_or_silence_ends_the_wait() {
    let silent = double(Duration::from_millis(200)).await;
    assert!(matches!(
        silent.invoke(&json!({})).await,
        Err(InvokeError::Timeout(_))
    ));
    assert!(matches!(
        silent.wait_ready(Duration::from_millis(50)).await,
        Err(InvokeError::Timeout(_))
    ));

    let failing = double(Duration::from_secs(30)).await;
    let answer = reqwest::Client::new()
        .post(url(&failing, "/init/error"))
        .json(&json!({"errorType": "Runtime.ExitError", "errorMessage": "no config"}))
        .send()
        .await
        .expect("init error");
    assert_eq!(answer.status(), 202);
    let expected = ErrorReport {
        error_type: "Runtime.ExitError".into(),
        error_message: "no config".into(),
    };
    assert_eq!(failing.init_error(), Some(expected.clone()));
    assert_eq!(
        failing.invoke(&json!({})).await,
        Err(InvokeError::InitError(expected.clone()))
    );
    assert_eq!(
        failing.wait_ready(Duration::from_secs(1)).await,
        Err(InvokeError::InitError(expected))
    );
}

#[tokio::test]
async fn the_invoke_api_runs_events_in_the_background_and_request_responses_inline() {
    let double = double(Duration::from_secs(30)).await;
    let api = InvokeApiDouble::start().await.expect("invoke API");
    api.register(ARN, double.clone());
    let http = reqwest::Client::new();
    let runtime = {
        let (http, double) = (http.clone(), double.clone());
        tokio::spawn(async move {
            for _ in 0..2 {
                let (event, id) = next(&http, &double).await;
                http.post(url(&double, &format!("/invocation/{id}/response")))
                    .json(&json!({"got": event}))
                    .send()
                    .await
                    .expect("response");
            }
        })
    };
    let invoke = |kind: &'static str, body: Value| {
        let http = http.clone();
        let endpoint = api.endpoint();
        async move {
            http.post(format!(
                "{endpoint}/2015-03-31/functions/{}/invocations",
                ARN.replace(':', "%3A")
            ))
            .header("x-amz-invocation-type", kind)
            .json(&body)
            .send()
            .await
            .expect("invoke")
        }
    };
    let event = invoke("Event", json!({"instanceId": 1})).await;
    assert_eq!(event.status(), 202);
    let inline = invoke("RequestResponse", json!({"instanceId": 2})).await;
    assert_eq!(inline.status(), 200);
    assert_eq!(
        inline.json::<Value>().await.expect("JSON"),
        json!({"got": {"instanceId": 2}})
    );
    let calls = api.wait_finished(2, Duration::from_secs(10)).await;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].function, ARN);
    assert_eq!(calls[0].invocation_type, "Event");
    assert_eq!(
        calls[0].result.as_ref().and_then(|r| r.json()),
        Some(json!({"got": {"instanceId": 1}}))
    );
    let unknown = http
        .post(format!(
            "{}/2015-03-31/functions/other/invocations",
            api.endpoint()
        ))
        .body("{}")
        .send()
        .await
        .expect("invoke");
    assert_eq!(unknown.status(), 404);
    runtime.await.expect("runtime side");
}
