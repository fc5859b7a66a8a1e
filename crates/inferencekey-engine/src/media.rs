//! Images and audio. The engine answers with real, decodable media — an 8×8 PNG, a short WAV
//! tone — whose colours and pitch come from a hash of the request, so clients can check they
//! got the right bytes back without the engine generating anything meaningful.

use std::collections::HashMap;
use std::io::Cursor;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::BytesRejection;
use axum::extract::Multipart;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::hooks::{self, Hooks};
use crate::params::{self, Obj};
use crate::unix_now;

const IMAGE_SIDE: u32 = 8;
const MAX_IMAGES: u64 = 10;
const SAMPLE_RATE: u32 = 24_000;
const TONE_SECONDS: f64 = 0.2;
const MAX_AUDIO_SECONDS: f64 = 30.0;
const VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
];
const SPEECH_FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];
/// Says which format the engine really wrote, since it writes only WAV and raw PCM.
const FORMAT_HEADER: HeaderName = HeaderName::from_static("x-reference-engine-format");
/// Multipart fields that carry files even when a client sends them without a file name.
const FILE_FIELDS: &[&str] = &["image", "image[]", "mask", "file"];

pub(crate) async fn generations(
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let o = params::object(&body?)?;
    let prompt = params::req_str(&o, "prompt")?;
    let hooks = Hooks::scan(prompt, "prompt")?;
    let opts = ImageOptions::from_json(&o)?;
    run_hooks(&hooks).await?;
    Ok(images(prompt.as_bytes(), &opts))
}

pub(crate) async fn edits(
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let form = Form::read(mp?).await?;
    let image = form.file("image")?;
    let prompt = form
        .text("prompt")
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("prompt", "`prompt` is required: describe the edit"))?;
    let hooks = Hooks::scan(prompt, "prompt")?;
    let opts = ImageOptions::from_form(&form)?;
    run_hooks(&hooks).await?;
    let mut seed = image.data.to_vec();
    seed.extend_from_slice(prompt.as_bytes());
    Ok(images(&seed, &opts))
}

pub(crate) async fn variations(
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let form = Form::read(mp?).await?;
    let image = form.file("image")?;
    let opts = ImageOptions::from_form(&form)?;
    Ok(images(&image.data, &opts))
}

async fn run_hooks(hooks: &Hooks) -> Result<(), ApiError> {
    hooks.before_answer().await?;
    if hooks.error {
        return Err(hooks::engine_error());
    }
    Ok(())
}

struct ImageOptions {
    n: u64,
    as_url: bool,
}

impl ImageOptions {
    fn from_json(o: &Obj) -> Result<ImageOptions, ApiError> {
        check_size(params::opt_str(o, "size")?)?;
        Ok(ImageOptions {
            n: params::opt_uint(o, "n", 1..=MAX_IMAGES)?.unwrap_or(1),
            // OpenAI's default is `url`; ours is a `data:` URL, since nothing is hosted.
            as_url: params::opt_choice(o, "response_format", &["b64_json", "url"])?
                != Some("b64_json"),
        })
    }

    fn from_form(form: &Form) -> Result<ImageOptions, ApiError> {
        check_size(form.text("size"))?;
        let as_url = match form.text("response_format") {
            Some("b64_json") => false,
            None | Some("url") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "response_format",
                    format!("`response_format` must be one of b64_json, url, got {other:?}"),
                ))
            }
        };
        Ok(ImageOptions {
            n: params::form_uint(form.text("n"), "n", 1..=MAX_IMAGES)?.unwrap_or(1),
            as_url,
        })
    }
}

/// Accepts OpenAI's `size` forms (`"auto"`, `"WxH"`); the image itself is always 8×8.
fn check_size(size: Option<&str>) -> Result<(), ApiError> {
    let Some(size) = size else { return Ok(()) };
    let valid = size == "auto"
        || size.split_once('x').is_some_and(|(w, h)| {
            w.parse::<u32>().is_ok_and(|w| w > 0) && h.parse::<u32>().is_ok_and(|h| h > 0)
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "size",
            format!("`size` must be \"auto\" or WIDTHxHEIGHT such as \"1024x1024\", got {size:?}"),
        ))
    }
}

fn images(seed: &[u8], opts: &ImageOptions) -> Json<Value> {
    let data: Vec<Value> = (0..opts.n)
        .map(|i| {
            let mut h = Sha256::new();
            h.update(seed);
            h.update(i.to_le_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(png(&h.finalize()));
            if opts.as_url {
                json!({"url": format!("data:image/png;base64,{b64}")})
            } else {
                json!({"b64_json": b64})
            }
        })
        .collect();
    Json(json!({"created": unix_now(), "data": data}))
}

/// An 8×8 RGB checkerboard of two colours taken from the digest.
pub(crate) fn png(digest: &[u8]) -> Vec<u8> {
    let (a, b) = (&digest[0..3], &digest[3..6]);
    let mut pixels = Vec::with_capacity((IMAGE_SIDE * IMAGE_SIDE * 3) as usize);
    for y in 0..IMAGE_SIDE {
        for x in 0..IMAGE_SIDE {
            pixels.extend_from_slice(if (x + y) % 2 == 0 { a } else { b });
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, IMAGE_SIDE, IMAGE_SIDE);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Encoding fixed-size RGB8 data into a Vec cannot fail.
    let mut w = enc.write_header().expect("PNG header for fixed 8x8 RGB8");
    w.write_image_data(&pixels)
        .expect("PNG data of the declared size");
    w.finish().expect("PNG end into a Vec");
    out
}

/// A sine tone, pitch 220–880 Hz from the digest, with short fades so it does not click.
fn tone(digest: &[u8], seconds: f64) -> Vec<i16> {
    let pitch = 220.0 + f64::from(u16::from_le_bytes([digest[0], digest[1]]) % 660);
    let n = ((seconds * f64::from(SAMPLE_RATE)).round() as usize).max(1);
    let fade = (SAMPLE_RATE as usize / 200).min(n / 2).max(1);
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(SAMPLE_RATE);
            let env = (i.min(n - 1 - i) as f64 / fade as f64).min(1.0);
            ((2.0 * std::f64::consts::PI * pitch * t).sin() * env * 0.3 * f64::from(i16::MAX))
                as i16
        })
        .collect()
}

pub(crate) fn wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cur = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    // Writing 16-bit mono PCM into memory cannot fail.
    let mut w = hound::WavWriter::new(&mut cur, spec).expect("WAV header into a Vec");
    for s in samples {
        w.write_sample(*s).expect("WAV sample into a Vec");
    }
    w.finalize().expect("WAV sizes into a Vec");
    cur.into_inner()
}

fn audio_response(bytes: Vec<u8>, content_type: &'static str, format_note: String) -> Response {
    let note = HeaderValue::from_str(&format_note).unwrap_or(HeaderValue::from_static("wav"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (FORMAT_HEADER, note),
        ],
        bytes,
    )
        .into_response()
}

pub(crate) async fn speech(body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let o = params::object(&body?)?;
    let input = params::req_str(&o, "input")?;
    let hooks = Hooks::scan(input, "input")?;
    let voice = params::opt_str(&o, "voice")?.unwrap_or("alloy");
    let format = params::opt_choice(&o, "response_format", SPEECH_FORMATS)?.unwrap_or("mp3");
    let speed = params::opt_num(&o, "speed", 0.25..=4.0)?.unwrap_or(1.0);
    run_hooks(&hooks).await?;
    let digest = Sha256::digest(format!("{voice}\n{input}"));
    let samples = tone(&digest, TONE_SECONDS / speed);
    Ok(match format {
        "pcm" => {
            let raw: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            audio_response(raw, "audio/pcm", "pcm".into())
        }
        "wav" => audio_response(wav(&samples), "audio/wav", "wav".into()),
        other => audio_response(
            wav(&samples),
            "audio/wav",
            format!("wav (requested {other}; the reference engine writes only wav and pcm)"),
        ),
    })
}

pub(crate) async fn generate(body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let o = params::object(&body?)?;
    // Audio-generation servers name the text differently; take the first one given.
    let param = ["prompt", "input", "text"]
        .into_iter()
        .find(|k| o.get(*k).is_some_and(|v| !v.is_null()))
        .unwrap_or("prompt");
    let prompt = params::req_str(&o, param)?;
    let hooks = Hooks::scan(prompt, param)?;
    let seconds =
        params::opt_num(&o, "duration", 0.01..=MAX_AUDIO_SECONDS)?.unwrap_or(TONE_SECONDS);
    run_hooks(&hooks).await?;
    let samples = tone(&Sha256::digest(prompt.as_bytes()), seconds);
    Ok(audio_response(wav(&samples), "audio/wav", "wav".into()))
}

pub(crate) async fn voices() -> Json<Value> {
    Json(json!({"voices": VOICES}))
}

pub(crate) async fn transcriptions(
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let form = Form::read(mp?).await?;
    let file = form.file("file")?;
    let format = match form.text("response_format") {
        None => "json",
        Some(f @ ("json" | "text" | "verbose_json" | "srt" | "vtt")) => f,
        Some(other) => {
            return Err(ApiError::invalid(
                "response_format",
                format!("`response_format` must be one of json, text, verbose_json, srt, vtt, got {other:?}"),
            ))
        }
    };
    let hooks = match form.text("prompt") {
        Some(p) => Hooks::scan(p, "prompt")?,
        None => Hooks::default(),
    };
    run_hooks(&hooks).await?;
    let text = format!(
        "reference engine (no model loaded) heard {} bytes of {}",
        file.data.len(),
        file.content_type
    );
    let seconds = hound::WavReader::new(Cursor::new(&file.data[..]))
        .map(|r| f64::from(r.duration()) / f64::from(r.spec().sample_rate))
        .unwrap_or(0.0);
    let plain =
        |body: String, ct: &'static str| ([(header::CONTENT_TYPE, ct)], body).into_response();
    Ok(match format {
        "text" => plain(text, "text/plain; charset=utf-8"),
        "srt" => plain(
            format!("1\n00:00:00,000 --> {}\n{text}\n", timestamp(seconds, ',')),
            "text/plain; charset=utf-8",
        ),
        "vtt" => plain(
            format!(
                "WEBVTT\n\n00:00:00.000 --> {}\n{text}\n",
                timestamp(seconds, '.')
            ),
            "text/vtt",
        ),
        "verbose_json" => Json(json!({
            "task": "transcribe",
            "language": form.text("language").unwrap_or("english"),
            "duration": seconds,
            "text": text,
            "segments": [{"id": 0, "start": 0.0, "end": seconds, "text": text}],
        }))
        .into_response(),
        _ => Json(json!({"text": text})).into_response(),
    })
}

fn timestamp(seconds: f64, frac_sep: char) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{frac_sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

struct FilePart {
    content_type: String,
    data: Bytes,
}

/// A multipart form read into memory (the body limit bounds it).
struct Form {
    texts: HashMap<String, String>,
    files: HashMap<String, FilePart>,
}

impl Form {
    async fn read(mut mp: Multipart) -> Result<Form, ApiError> {
        let mut form = Form {
            texts: HashMap::new(),
            files: HashMap::new(),
        };
        while let Some(field) = mp.next_field().await? {
            let name = field.name().unwrap_or_default().to_owned();
            if field.file_name().is_some() || FILE_FIELDS.contains(&name.as_str()) {
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let data = field.bytes().await?;
                // `image[]` is how OpenAI clients send a list of images; the first one counts.
                let key = name.trim_end_matches("[]").to_owned();
                form.files
                    .entry(key)
                    .or_insert(FilePart { content_type, data });
            } else {
                let value = field.text().await.map_err(|_| {
                    ApiError::invalid(
                        name.clone(),
                        format!("form field `{name}` must be UTF-8 text"),
                    )
                })?;
                form.texts.insert(name, value);
            }
        }
        Ok(form)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }

    fn file(&self, name: &str) -> Result<&FilePart, ApiError> {
        match self.files.get(name) {
            Some(f) if !f.data.is_empty() => Ok(f),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("form file `{name}` is empty"),
            )),
            None => Err(ApiError::invalid(
                name,
                format!("form file `{name}` is required"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0.2, ','), "00:00:00,200");
        assert_eq!(timestamp(3725.5, '.'), "01:02:05.500");
    }

    #[test]
    fn tone_has_fades_and_length() {
        let t = tone(&[1; 32], 0.2);
        assert_eq!(t.len(), 4800);
        assert_eq!(t[0], 0);
        assert!(t.iter().any(|s| s.unsigned_abs() > 5000));
    }
}
