//! Any text as the user's config file or theme file: a config, or an error naming the key
//! or line.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = meshtop::config::Config::parse(text) {
        let mut keys = meshtop::app::Keymap::default();
        let _ = keys.remap(&c.keys);
    }
    let _ = meshtop::ui::theme::Theme::parse_user(text, "fuzz.toml");
});
