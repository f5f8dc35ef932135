//! The scenario reader and validator: any text is a scenario or a list of located errors, never a
//! panic or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dealsim::scenario::parse_scenario("fuzz.toml", text, &[]);
    }
});
