//! The committed header must be what cbindgen makes from the current source, so C and Go
//! users never compile against a stale ABI. `INFERENCEKEY_BLESS=1` rewrites it instead.

use std::path::PathBuf;

#[test]
fn header_is_current() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can parse the crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = crate_dir.join("../../include/inferencekey.h");
    if std::env::var_os("INFERENCEKEY_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/inferencekey.h is stale; regenerate it with \
         `INFERENCEKEY_BLESS=1 cargo test -p inferencekey-capi --test header` and commit it"
    );
}
