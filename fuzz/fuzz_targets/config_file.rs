//! config.json: `ConfigFile::parse` on any UTF-8 text, then resolution and the `config check`
//! report or the error listing. Never a panic; a secret given in the file never shows.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use tessera_config::{ConfigFile, FileValue, RawSources};
use tessera_fuzz::{resolve_and_render, shown_errors};

fuzz_target!(|data: &[u8]| {
    // `read_sources` refuses a file that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = PathBuf::from("/etc/tessera/config.json");
    let file = match ConfigFile::parse(path, text) {
        Ok(file) => file,
        Err(error) => {
            // Parse errors come from serde_json, which never quotes the document.
            let shown = shown_errors(&error.into());
            assert!(
                !shown.contains(tessera_fuzz::SECRET_MARK),
                "a parse error quotes the file"
            );
            return;
        }
    };
    let given: Vec<(String, String)> = file
        .entries
        .iter()
        .map(|(name, value)| match value {
            FileValue::Text(text) => (name.clone(), text.clone()),
            _ => (name.clone(), String::new()),
        })
        .collect();
    let sources = RawSources {
        cli: Vec::new(),
        env: Vec::new(),
        file: Some(file),
        secret_files: Vec::new(),
    };
    resolve_and_render(&sources, &given);
});
