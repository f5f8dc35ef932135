//! The `--set KEY=VALUE` parser, and the override of a fixed, valid scenario (the shipped base
//! scenario without its comments, `fuzz/set.toml`) by whatever it parses. Each line of the input
//! is one `--set`, so overrides also meet each other (the same key twice, a table and a key
//! inside it).

#![no_main]

use dealsim::scenario::{Override, parse_scenario};
use libfuzzer_sys::fuzz_target;

const BASE: &str = include_str!("../set.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sets: Vec<Override> = text.lines().filter_map(|line| Override::parse(line).ok()).collect();
    if !sets.is_empty() {
        let _ = parse_scenario("base.toml", BASE, &sets);
    }
});
