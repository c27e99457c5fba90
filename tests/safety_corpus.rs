//! The contact-detail safety filter measured on its corpus (`tests/data/safety/`, written by
//! `generate.py` there): recall on realistic evasions and the false-positive rate on ordinary
//! messages, printed on every run and held above floors the corpus supports.
//!
//! - An evasion counts as caught when the message is flagged and none of its contact details
//!   (the `|`-separated list after the tab) is left in the text shown.
//! - An ordinary message counts as a false positive when the text shown differs from it.

use gigmarket::message::safety::screen;

/// Floors: the filter catches every evasion of the corpus and spoils no ordinary message
/// today; these leave room for a handful of new hard cases without hiding a regression.
const RECALL_FLOOR: f64 = 0.97;
const FALSE_POSITIVE_CEILING: f64 = 0.01;

const EVASIONS: &str = include_str!("data/safety/evasions.tsv");
const ORDINARY: &str = include_str!("data/safety/ordinary.txt");

fn main() {
    let mut caught = 0usize;
    let mut missed = Vec::new();
    let evasions: Vec<&str> = EVASIONS.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in &evasions {
        let (text, secrets) = line.split_once('\t').unwrap_or((line, ""));
        let out = screen(text, false);
        let leaked: Vec<&str> = secrets
            .split('|')
            .filter(|s| !s.is_empty() && out.text.contains(*s))
            .collect();
        if out.flagged && leaked.is_empty() {
            caught += 1;
        } else {
            missed.push(format!("  missed: {text:?} -> {:?} (left: {leaked:?})", out.text));
        }
    }
    let mut spoiled = Vec::new();
    let ordinary: Vec<&str> = ORDINARY.lines().filter(|l| !l.trim().is_empty()).collect();
    for text in &ordinary {
        let out = screen(text, false);
        if out.flagged || out.text != *text {
            spoiled.push(format!("  false positive: {text:?} -> {:?}", out.text));
        }
    }
    let recall = caught as f64 / evasions.len() as f64;
    let false_positives = spoiled.len() as f64 / ordinary.len() as f64;
    for line in missed.iter().chain(&spoiled) {
        println!("{line}");
    }
    println!(
        "safety filter corpus: recall {caught}/{} = {recall:.3} (floor {RECALL_FLOOR}), \
         false positives {}/{} = {false_positives:.3} (ceiling {FALSE_POSITIVE_CEILING})",
        evasions.len(),
        spoiled.len(),
        ordinary.len()
    );
    assert!(evasions.len() >= 300 && ordinary.len() >= 300, "the corpus has shrunk");
    if recall < RECALL_FLOOR || false_positives > FALSE_POSITIVE_CEILING {
        eprintln!("safety filter below its floors");
        std::process::exit(1);
    }
    println!("1 passed, 0 failed");
}
