//! Every non-chat route over real HTTP: shapes, determinism, media validity, errors.

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{assert_invalid, engine, start};
use inferencekey_engine::EngineConfig;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[tokio::test]
async fn health_and_models() {
    let e = start(EngineConfig {
        model: "org/model-7b".into(),
        ..EngineConfig::default()
    })
    .await;
    assert_eq!(e.get_json("/health").await, (200, json!({"status": "ok"})));
    let (status, body) = e.get_json("/v1/models").await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "org/model-7b");
    assert_eq!(body["data"][0]["object"], "model");
    assert_eq!(body["data"][0]["owned_by"], "inferencekey-reference-engine");
}

#[tokio::test]
async fn startup_delay_answers_503_until_ready() {
    let e = start(EngineConfig {
        startup_delay: Duration::from_secs(3600),
        ..EngineConfig::default()
    })
    .await;
    assert_eq!(
        e.get_json("/health").await,
        (503, json!({"status": "loading"}))
    );
    let resp = e
        .http
        .post(e.url("/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_loading");

    let e = start(EngineConfig {
        startup_delay: Duration::from_millis(200),
        ..EngineConfig::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = e.get_json("/health").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(e.get_json("/v1/models").await.0, 200);
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let e = start(EngineConfig {
        embedding_dim: 64,
        ..EngineConfig::default()
    })
    .await;
    let (status, body) = e
        .post_json(
            "/v1/embeddings",
            &json!({"model": "m", "input": ["alpha beta", "gamma", "alpha beta"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "reference-model");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 5, "total_tokens": 5})
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        let v = floats(&d["embedding"]);
        assert_eq!(v.len(), 64);
        assert!((norm(&v) - 1.0).abs() < 1e-4);
    }
    assert_eq!(data[0]["embedding"], data[2]["embedding"]);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    let (_, single) = e
        .post_json("/v1/embeddings", &json!({"input": "gamma"}))
        .await;
    assert_eq!(single["data"][0]["embedding"], data[1]["embedding"]);

    let (_, sized) = e
        .post_json(
            "/v1/embeddings",
            &json!({"input": "gamma", "dimensions": 8}),
        )
        .await;
    assert_eq!(floats(&sized["data"][0]["embedding"]).len(), 8);

    let (_, b64) = e
        .post_json(
            "/v1/embeddings",
            &json!({"input": "gamma", "encoding_format": "base64"}),
        )
        .await;
    let bytes = B64
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    let expected = floats(&data[1]["embedding"]);
    assert_eq!(decoded.len(), 64);
    assert!(decoded
        .iter()
        .zip(&expected)
        .all(|(a, b)| (a - b).abs() < 1e-6));

    let (status, tokens) = e
        .post_json("/v1/embeddings", &json!({"input": [[1, 2, 3], [4]]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(tokens["usage"]["prompt_tokens"], 4);
    let (_, one) = e
        .post_json("/v1/embeddings", &json!({"input": [1, 2, 3]}))
        .await;
    assert_eq!(one["data"][0]["embedding"], tokens["data"][0]["embedding"]);
}

#[tokio::test]
async fn embeddings_reject_bad_input() {
    let e = engine().await;
    for (body, param) in [
        (json!({}), "input"),
        (json!({"input": ""}), "input"),
        (json!({"input": []}), "input"),
        (json!({"input": 5}), "input"),
        (json!({"input": ["ok", 5]}), "input[1]"),
        (json!({"input": ["ok", ""]}), "input[1]"),
        (json!({"input": [[1, -2]]}), "input[0]"),
        (json!({"input": "x", "dimensions": 0}), "dimensions"),
        (
            json!({"input": "x", "encoding_format": "hex"}),
            "encoding_format",
        ),
    ] {
        let (status, answer) = e.post_json("/v1/embeddings", &body).await;
        assert_invalid(status, &answer, param);
    }
}

#[tokio::test]
async fn rerank_sorts_by_word_overlap() {
    let e = engine().await;
    let req = json!({
        "model": "m",
        "query": "the quick brown fox",
        "documents": ["a slow dog", {"text": "The quick brown fox!"}, "quick fox"],
    });
    for path in ["/v1/rerank", "/rerank", "/v2/rerank"] {
        let (status, body) = e.post_json(path, &req).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model"], "reference-model");
        assert!(body["id"].is_string());
        assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
        let results = body["results"].as_array().unwrap();
        let order: Vec<u64> = results
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect();
        assert_eq!(order, [1, 2, 0]);
        assert_eq!(results[0]["relevance_score"], 1.0);
        assert_eq!(results[1]["relevance_score"], 0.5);
        assert_eq!(results[2]["relevance_score"], 0.0);
        assert_eq!(results[0]["document"]["text"], "The quick brown fox!");
    }
    let mut top = req.clone();
    top["top_n"] = json!(1);
    top["return_documents"] = json!(false);
    let (_, body) = e.post_json("/v1/rerank", &top).await;
    assert_eq!(
        body["results"],
        json!([{"index": 1, "relevance_score": 1.0}])
    );

    for (body, param) in [
        (json!({"documents": ["a"]}), "query"),
        (json!({"query": "q"}), "documents"),
        (json!({"query": "q", "documents": []}), "documents"),
        (
            json!({"query": "q", "documents": [{"txt": "a"}]}),
            "documents[0].text",
        ),
        (
            json!({"query": "q", "documents": ["a"], "top_n": 0}),
            "top_n",
        ),
    ] {
        let (status, answer) = e.post_json("/v1/rerank", &body).await;
        assert_invalid(status, &answer, param);
    }
}

/// Checks the PNG signature and IHDR by hand, then decodes it fully.
fn check_png(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[8..16], b"\x00\x00\x00\x0dIHDR");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 8);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 8);
    let decoder = png::Decoder::new(Cursor::new(bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (8, 8));
    pixels
}

#[tokio::test]
async fn image_generations_are_valid_pngs() {
    let e = engine().await;
    let (status, body) = e
        .post_json(
            "/v1/images/generations",
            &json!({"model": "m", "prompt": "a red fox", "n": 3, "size": "1024x1024", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["created"].as_u64().is_some());
    let images: Vec<Vec<u8>> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| check_png(&B64.decode(d["b64_json"].as_str().unwrap()).unwrap()))
        .collect();
    assert_eq!(images.len(), 3);
    assert_ne!(images[0], images[1]);

    let (_, again) = e
        .post_json(
            "/v1/images/generations",
            &json!({"prompt": "a red fox", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(again["data"][0], body["data"][0]);

    // Like OpenAI, the default answer is a URL (here a data: URL).
    let (_, default) = e
        .post_json("/v1/images/generations", &json!({"prompt": "a red fox"}))
        .await;
    assert!(default["data"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));

    let (_, url) = e
        .post_json(
            "/v1/images/generations",
            &json!({"prompt": "a red fox", "response_format": "url"}),
        )
        .await;
    let url = url["data"][0]["url"].as_str().unwrap();
    let b64 = url.strip_prefix("data:image/png;base64,").unwrap();
    check_png(&B64.decode(b64).unwrap());

    for (body, param) in [
        (json!({}), "prompt"),
        (json!({"prompt": " "}), "prompt"),
        (json!({"prompt": "p", "n": 0}), "n"),
        (json!({"prompt": "p", "n": 11}), "n"),
        (json!({"prompt": "p", "size": "big"}), "size"),
        (
            json!({"prompt": "p", "response_format": "gif"}),
            "response_format",
        ),
    ] {
        let (status, answer) = e.post_json("/v1/images/generations", &body).await;
        assert_invalid(status, &answer, param);
    }
}

async fn multipart(e: &common::Engine, path: &str, form: Form) -> (u16, Value) {
    let resp = e
        .http
        .post(e.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn image_part() -> Part {
    Part::bytes(vec![1, 2, 3, 4])
        .file_name("in.png")
        .mime_str("image/png")
        .unwrap()
}

#[tokio::test]
async fn image_edits_and_variations_take_multipart() {
    let e = engine().await;
    let form = Form::new()
        .part("image", image_part())
        .text("prompt", "make it blue")
        .text("n", "2")
        .text("response_format", "b64_json")
        .text("model", "m");
    let (status, body) = multipart(&e, "/v1/images/edits", form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    check_png(
        &B64.decode(body["data"][1]["b64_json"].as_str().unwrap())
            .unwrap(),
    );

    let form = Form::new()
        .part("image[]", image_part())
        .text("prompt", "make it blue")
        .text("response_format", "url");
    let (status, body) = multipart(&e, "/v1/images/edits", form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));

    let (status, body) = multipart(
        &e,
        "/v1/images/variations",
        Form::new()
            .part("image", image_part())
            .text("response_format", "b64_json"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    check_png(
        &B64.decode(body["data"][0]["b64_json"].as_str().unwrap())
            .unwrap(),
    );

    let (status, body) = multipart(&e, "/v1/images/edits", Form::new().text("prompt", "x")).await;
    assert_invalid(status, &body, "image");
    let (status, body) = multipart(
        &e,
        "/v1/images/edits",
        Form::new().part("image", image_part()),
    )
    .await;
    assert_invalid(status, &body, "prompt");
    let form = Form::new().part("image", image_part()).text("n", "many");
    let (status, body) = multipart(&e, "/v1/images/variations", form).await;
    assert_invalid(status, &body, "n");

    // JSON sent to a multipart route is a clear 4xx, not a hang or a 500.
    let resp = e.post("/v1/images/edits", &json!({"prompt": "x"})).await;
    assert!(resp.status().is_client_error());
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("multipart"));
}

/// Parses a WAV: RIFF header by hand, then samples with hound.
fn check_wav(bytes: &[u8]) -> Vec<i16> {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize,
        bytes.len() - 8
    );
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    let mut r = hound::WavReader::new(Cursor::new(bytes.to_vec())).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    assert!(!samples.is_empty());
    samples
}

#[tokio::test]
async fn speech_is_a_wav_tone() {
    let e = engine().await;
    let speak = |body: Value| {
        let e = &e;
        async move {
            let resp = e.post("/v1/audio/speech", &body).await;
            assert_eq!(resp.status(), 200);
            let h = resp.headers().clone();
            (h, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (h, wav) = speak(
        json!({"model": "tts", "input": "hello", "voice": "alloy", "response_format": "wav"}),
    )
    .await;
    assert_eq!(h["content-type"], "audio/wav");
    assert_eq!(h["x-reference-engine-format"], "wav");
    let samples = check_wav(&wav);
    assert_eq!(samples.len(), 4800);

    let (_, same) =
        speak(json!({"input": "hello", "voice": "alloy", "response_format": "wav"})).await;
    assert_eq!(same, wav);
    let (_, other) =
        speak(json!({"input": "bye", "voice": "alloy", "response_format": "wav"})).await;
    assert_ne!(check_wav(&other), samples);

    let (h, mp3) = speak(json!({"input": "hello", "voice": "alloy"})).await;
    assert_eq!(h["content-type"], "audio/wav");
    assert!(h["x-reference-engine-format"]
        .to_str()
        .unwrap()
        .contains("requested mp3"));
    check_wav(&mp3);

    let (h, pcm) = speak(json!({"input": "hello", "response_format": "pcm"})).await;
    assert_eq!(h["content-type"], "audio/pcm");
    assert_eq!(pcm.len(), 4800 * 2);

    let (_, fast) = speak(json!({"input": "hello", "response_format": "wav", "speed": 2.0})).await;
    assert_eq!(check_wav(&fast).len(), 2400);

    for (body, param) in [
        (json!({"voice": "alloy"}), "input"),
        (
            json!({"input": "x", "response_format": "ogg"}),
            "response_format",
        ),
        (json!({"input": "x", "speed": 9}), "speed"),
        (json!({"input": "x", "voice": 3}), "voice"),
    ] {
        let (status, answer) = e.post_json("/v1/audio/speech", &body).await;
        assert_invalid(status, &answer, param);
    }
}

#[tokio::test]
async fn audio_generate_and_voices() {
    let e = engine().await;
    let resp = e
        .post(
            "/v1/audio/generate",
            &json!({"prompt": "rain on a roof", "duration": 0.5}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    assert_eq!(check_wav(&resp.bytes().await.unwrap()).len(), 12_000);
    let resp = e
        .post("/v1/audio/generate", &json!({"input": "wind"}))
        .await;
    assert_eq!(resp.status(), 200);
    let (status, body) = e.post_json("/v1/audio/generate", &json!({})).await;
    assert_invalid(status, &body, "prompt");

    let (status, body) = e.get_json("/v1/audio/voices").await;
    assert_eq!(status, 200);
    assert!(body["voices"].as_array().unwrap().contains(&json!("alloy")));
}

#[tokio::test]
async fn transcriptions_report_what_they_heard() {
    let e = engine().await;
    let resp = e
        .post(
            "/v1/audio/speech",
            &json!({"input": "x", "response_format": "wav"}),
        )
        .await;
    let wav = resp.bytes().await.unwrap().to_vec();
    let n = wav.len();
    let file = || {
        Part::bytes(wav.clone())
            .file_name("a.wav")
            .mime_str("audio/wav")
            .unwrap()
    };

    let (status, body) = multipart(
        &e,
        "/v1/audio/transcriptions",
        Form::new().part("file", file()).text("model", "whisper"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"text": format!("reference engine (no model loaded) heard {n} bytes of audio/wav")})
    );

    let form = Form::new()
        .part("file", file())
        .text("response_format", "text");
    let resp = e
        .http
        .post(e.url("/v1/audio/transcriptions"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        resp.text().await.unwrap(),
        format!("reference engine (no model loaded) heard {n} bytes of audio/wav")
    );

    let form = Form::new()
        .part("file", file())
        .text("response_format", "verbose_json");
    let (_, body) = multipart(&e, "/v1/audio/transcriptions", form).await;
    assert_eq!(body["duration"], 0.2);
    assert_eq!(body["segments"][0]["end"], 0.2);

    let form = Form::new()
        .part("file", file())
        .text("response_format", "vtt");
    let resp = e
        .http
        .post(e.url("/v1/audio/transcriptions"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(resp
        .text()
        .await
        .unwrap()
        .starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:00.200\n"));

    let (status, body) = multipart(
        &e,
        "/v1/audio/transcriptions",
        Form::new().text("model", "w"),
    )
    .await;
    assert_invalid(status, &body, "file");
    let form = Form::new()
        .part("file", file())
        .text("response_format", "mp3");
    let (status, body) = multipart(&e, "/v1/audio/transcriptions", form).await;
    assert_invalid(status, &body, "response_format");
}

#[tokio::test]
async fn forecast_answers_the_documented_shape() {
    let e = engine().await;
    let (status, body) = e
        .post_json(
            "/forecast",
            &json!({"id": "sales", "target": [1, 2, 3, 4], "horizon": 3,
                    "timestamps": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"],
                    "freq": "D", "past_covariates": {"promo": [0, 1, 0, 1]},
                    "future_covariates": {"promo": [1, 0, 1]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let f = &body["forecast"];
    assert_eq!(f["median"], json!([5.0, 6.0, 7.0]));
    assert_eq!(
        f["timestamps"],
        json!(["2026-01-05", "2026-01-06", "2026-01-07"])
    );
    for level in ["0.1", "0.5", "0.9"] {
        assert_eq!(
            f["quantiles"][level].as_array().unwrap().len(),
            3,
            "{level}"
        );
    }
    assert!(f.get("samples").is_none());

    let (_, noisy) = e
        .post_json(
            "/forecast",
            &json!({"id": "x", "target": [1, 3, 2, 5, 4], "horizon": 2,
                    "quantile_levels": [0.05, 0.95], "return_samples": true, "num_samples": 4}),
        )
        .await;
    let f = &noisy["forecast"];
    let lo = f["quantiles"]["0.05"][1].as_f64().unwrap();
    let mid = f["median"][1].as_f64().unwrap();
    let hi = f["quantiles"]["0.95"][1].as_f64().unwrap();
    assert!(lo < mid && mid < hi, "{f}");
    assert_eq!(f["samples"].as_array().unwrap().len(), 4);
    assert!(f.get("timestamps").is_none());

    for (req, field) in [
        (json!({"target": [1], "horizon": 2}), "id"),
        (json!({"id": "", "target": [1], "horizon": 2}), "id"),
        (json!({"id": "a", "horizon": 2}), "target"),
        (json!({"id": "a", "target": [], "horizon": 2}), "target"),
        (
            json!({"id": "a", "target": [1, true], "horizon": 2}),
            "target[1]",
        ),
        (
            json!({"id": "a", "target": [1, "2"], "horizon": 2}),
            "target[1]",
        ),
        (json!({"id": "a", "target": [1]}), "horizon"),
        (json!({"id": "a", "target": [1], "horizon": 0}), "horizon"),
        (json!({"id": "a", "target": [1], "horizon": 1.5}), "horizon"),
        (
            json!({"id": "a", "target": [1, 2], "horizon": 1, "timestamps": ["2026-01-01"]}),
            "timestamps",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "freq": ""}),
            "freq",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "quantile_levels": [0.5, 1.0]}),
            "quantile_levels[1]",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "past_covariates": {"p": [1, 2]}}),
            "past_covariates.p",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 2, "future_covariates": {"p": [1]}}),
            "future_covariates.p",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "num_samples": 0}),
            "num_samples",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "return_samples": "yes"}),
            "return_samples",
        ),
        (
            json!({"id": "a", "target": [1], "horizon": 1, "series": [1]}),
            "series",
        ),
    ] {
        let (status, answer) = e.post_json("/forecast", &req).await;
        assert_invalid(status, &answer, field);
    }
}

#[tokio::test]
async fn unknown_routes_methods_and_huge_bodies() {
    let e = engine().await;
    let (status, body) = e.post_json("/v1/completions/nope", &json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_url");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/completions/nope"));

    let (status, body) = e.get_json("/v1/chat/completions").await;
    assert_eq!(status, 405);
    assert!(body["error"]["message"].is_string());

    let huge = vec![b' '; 33 * 1024 * 1024];
    let resp = e
        .http
        .post(e.url("/v1/embeddings"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("32 MiB"));
}
