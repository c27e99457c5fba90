//! The contact-detail safety filter (seed 004): until two parties share an order, phone
//! numbers, email addresses and off-platform contact keywords are masked, so deals are not
//! taken outside the marketplace before it can protect either side. The unmasked text is kept
//! for moderation whenever something was masked.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a masked span.
pub const MASK: &str = "[hidden]";

fn compile(name: &str, pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("{name} pattern: {e}"))
}

/// The ways people write the separators of an address: `.`, `(dot)`, `[dot]`, `[.]`, ` dot `.
const DOT: &str = r"(?:\.|\s*\(dot\)\s*|\s*\[dot\]\s*|\s*\[\.\]\s*|\s+dot\s+)";
/// The same for `@`.
const AT: &str = r"(?:\s*@\s*|\s*\(at\)\s*|\s*\[at\]\s*|\s+at\s+)";
/// Mail providers named without their top-level domain ("ada at gmail").
const MAIL_HOSTS: &str = "gmail|googlemail|yahoo|hotmail|outlook|live|icloud|proton(?:mail)?|aol|yandex|gmx|zoho";

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        "email",
        &format!(r"(?i)[a-z0-9._%+-]+{AT}(?:[a-z0-9-]+(?:{DOT}[a-z0-9-]+)+|(?:{MAIL_HOSTS})\b)"),
    )
});

/// Top-level domains of personal sites, lower case only: "done.Me too" (a missing space)
/// is no address. File extensions that are also TLDs (`.ai`, `.md`, `.py`, `.rs`, `.sh`,
/// `.pl`, `.zip`, `.mov`) are left out: "logo.ai" is a file.
const TLDS: &str = "com|net|org|io|dev|me|co|uk|de|fr|in|app|xyz|info|biz|site|online|tech|store|shop|page\
                    |blog|design|studio|art|website|space|pro|portfolio|link|ly|gg|tv|ca|au|nl|es|eu|ch\
                    |se|ru|br|nz|ie|dk|fi|pt|club|live|life|work|agency|digital|cloud|email|host|page";

/// Web addresses: anything with a scheme or `www.`, and bare domains with a common TLD,
/// with their path ("jane.dev/work", "linkedin.com/in/jane-doe", "jane dot dev").
static WEB: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        "web",
        &format!(
            r#"(?i:\b(?:https?://|www\.)[^\s<>"]+)|(?i:\b[a-z0-9][a-z0-9-]*(?:{DOT}[a-z0-9][a-z0-9-]*)*){DOT}(?:{TLDS})\b(?:/[^\s<>"]*)?"#
        ),
    )
});

/// Library and framework names written like domains.
const NOT_SITES: &[&str] = &["asp.net", "vb.net", "ado.net", "socket.io", "deno.land"];

/// Digit runs: dates, times, prices and year ranges first (they are let through), then runs of
/// digits with the separators people put in phone numbers (masked from seven digits on).
static NUMBERS: LazyLock<Regex> = LazyLock::new(|| {
    let day = r"(?:0?[1-9]|[12]\d|3[01])";
    let year = r"(?:19|20)\d{2}";
    let amount = r"\d[\d,.]*k?";
    compile(
        "numbers",
        &format!(
            r"(?xi)
            (?P<date> \b {day} [/.\-] {day} [/.\-] {year} \b | \b {year} - (?:0[1-9]|1[0-2]) - {day} \b )
          | (?P<time> \b (?:[01]?\d|2[0-3]) : [0-5]\d \b )
          | (?P<money> [$€£₹] \s? {amount} (?: \s? (?:-|–|to) \s? [$€£₹]? {amount} )?
              | \b {amount} (?: \s? (?:-|–|to) \s? {amount} )? \s? (?:usd|eur|gbp|inr|rs|dollars|euros|pounds|rupees)\b )
          | (?P<years> \b {year} \s? (?:-|–|to) \s? {year} \b )
          | (?P<phone> \+? \(? \d (?: [\s().\-/_*|~]{{0,3}} \d ){{6,16}} )"
        ),
    )
});

/// A run of numbers written in words, possibly mixed with digits ("nine one seven 555 oh
/// one two three"): masked when it adds up to seven digits or more with at least three words.
static SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    let token = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen\
                 |sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety\
                 |hundred|double|triple|\d+)";
    compile("spelled", &format!(r"(?i)\b{token}(?:[\s,.\-]+{token})*\b"))
});

/// How many digits a spelled-out run stands for, and how many of its tokens are words (runs
/// of bare digits are the phone pattern's business, and a date followed by "two revisions"
/// is no phone number).
fn spelled_digits(run: &str) -> (usize, usize) {
    let mut digits = 0;
    let mut words = 0;
    for token in run.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-')) {
        let token = token.to_ascii_lowercase();
        if token.is_empty() {
            continue;
        }
        if token.bytes().all(|b| b.is_ascii_digit()) {
            digits += token.len();
            continue;
        }
        words += 1;
        digits += match token.as_str() {
            "double" => 1,
            "triple" => 2,
            "ten" | "hundred" => 2,
            t if t.ends_with("teen") || t.ends_with("ty") || t == "eleven" || t == "twelve" => 2,
            _ => 1,
        };
    }
    (digits, words)
}

/// Handles that are contact details whatever precedes them: `@jane_doe`, a Cash App `$cashtag`,
/// a UPI id (`jane@okaxis`), a Discord tag (`jane#1234`).
static HANDLES: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        "handles",
        r"(?i)\B@\w[\w.\-]{2,29}|\B\$[a-z][a-z0-9_-]{2,19}\b|\b[a-z][a-z0-9._-]+@[a-z][a-z0-9]+\b|\b\w{2,32}#\d{4}\b",
    )
});

/// Apps and payment services that move a conversation or a payment off the platform, with
/// what may follow them: a label ("id", "handle"), a separator ("is", ":"), then a handle.
static PLATFORMS: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        "platforms",
        r"(?xi) \b (?P<name>
            whats\s*app | telegram | skype | wechat | viber | snap\s*chat | instagram | insta | discord
          | linked\s*in | facebook | twitter | signal\s+me | on\s+signal | kik | line\s+id
          | paypal | venmo | cash\s*app | zelle | g\s*pay | google\s+pay | paytm | phone\s*pe | upi | revolut
        ) \b
        (?: (?P<label> \s* (?:id|handle|user\s*name|username|name|account|acct|tag|number|no\.?|profile|link|url) \b )?
            (?P<sep> \s* (?:is|=|:|-|–|—|->|→|@) )?
            \s* \(? (?P<handle> (?:live:)? [\w@+][\w.\-\#:/@+]* ) )?",
    )
});

/// Words that may follow a platform's name without being a handle.
const NOT_HANDLES: &[&str] = &[
    "a", "about", "after", "also", "an", "and", "app", "as", "at", "because", "before", "bot", "but", "call", "best",
    "better", "blocked", "calls", "can", "channel", "chat", "could", "down", "easier", "faster", "fine", "for", "from",
    "good", "group", "has", "have", "i", "if", "in", "instead", "not", "ok", "okay", "is", "it", "later", "maybe",
    "me", "message", "messages", "now", "of", "on", "or", "please", "pls", "so", "should", "that", "the", "then",
    "this", "to", "today", "tomorrow", "tonight", "too", "us", "video", "voice", "we", "when", "will", "with", "works",
    "would", "you",
];

/// Whether `handle`, found after a platform's name, is one: it has a character a word does not
/// have, or a label or separator announced it, or it is no common word.
fn is_handle(handle: &str, announced: bool) -> bool {
    let lower = handle.to_ascii_lowercase();
    let word = lower.trim_end_matches(['.', ':', '-']);
    if word.is_empty() || NOT_HANDLES.contains(&word) {
        return false;
    }
    announced || word.chars().any(|c| !c.is_alphabetic()) || word.len() >= 3
}

/// Phrases that move a conversation off the platform.
static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        "keywords",
        r"(?ix) \b (?:
            call\s+me | text\s+me | phone\s+me | ring\s+me | my\s+(?:phone\s+|cell\s+|mobile\s+)?number
          | e-?mail\s+me | dm\s+me | (?:contact|reach)\s+me\s+(?:at|on|via) | pay\s+(?:me\s+)?(?:directly|outside)
          | off[\s-]platform | outside\s+(?:the|this)\s+(?:platform|site|app)
        ) \b",
    )
});

/// The text participants see, and whether anything was masked.
#[derive(Debug, PartialEq, Eq)]
pub struct Screened {
    pub text: String,
    pub flagged: bool,
}

/// Counts the digits in a candidate phone match.
fn digits(s: &str) -> usize {
    s.chars().filter(char::is_ascii_digit).count()
}

/// Masks contact details in `text` unless the parties share an order.
pub fn screen(text: &str, parties_share_an_order: bool) -> Screened {
    if parties_share_an_order {
        return Screened {
            text: text.to_owned(),
            flagged: false,
        };
    }
    let mut flagged = false;
    let mut mask = |_: &regex::Captures| {
        flagged = true;
        MASK.to_owned()
    };
    let masked = EMAIL.replace_all(text, &mut mask).into_owned();
    let masked = WEB
        .replace_all(&masked, |caps: &regex::Captures| {
            let found = &caps[0];
            if NOT_SITES.contains(&found.to_ascii_lowercase().as_str()) {
                found.to_owned()
            } else {
                mask(caps)
            }
        })
        .into_owned();
    let masked = NUMBERS
        .replace_all(&masked, |caps: &regex::Captures| match caps.name("phone") {
            // Seven digits is the shortest local number.
            Some(phone) if digits(phone.as_str()) >= 7 => mask(caps),
            _ => caps[0].to_owned(),
        })
        .into_owned();
    let masked = SPELLED
        .replace_all(&masked, |caps: &regex::Captures| match spelled_digits(&caps[0]) {
            (7.., 3..) => mask(caps),
            _ => caps[0].to_owned(),
        })
        .into_owned();
    let masked = HANDLES.replace_all(&masked, &mut mask).into_owned();
    let masked = PLATFORMS
        .replace_all(&masked, |caps: &regex::Captures| {
            let announced = caps.name("label").is_some() || caps.name("sep").is_some();
            match caps.name("handle") {
                Some(handle) if !is_handle(handle.as_str(), announced) => {
                    // The name alone is masked; what follows it is kept as written.
                    let whole = caps.get(0).map_or(0, |m| m.start());
                    let name_end = caps.name("name").map_or(handle.start(), |m| m.end());
                    format!("{}{}", mask(caps), &caps[0][name_end - whole..])
                }
                _ => mask(caps),
            }
        })
        .into_owned();
    let masked = KEYWORDS.replace_all(&masked, &mut mask).into_owned();
    Screened { text: masked, flagged }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        screen(text, false).text
    }

    #[test]
    fn phone_numbers_in_many_formats_are_masked() {
        for phone in [
            "+1 (555) 123-4567",
            "555-123-4567",
            "5551234567",
            "+44 20 7946 0958",
            "020 7946 0958",
            "+49 30 123456",
            "555.123.4567",
            "555 1234",
            "(555) 123 45 67",
        ] {
            let out = screen(&format!("reach me: {phone} thanks"), false);
            assert!(out.flagged, "{phone}");
            assert_eq!(out.text, "reach me: [hidden] thanks", "{phone}");
        }
    }

    #[test]
    fn prices_dates_and_small_numbers_pass() {
        for text in [
            "Budget is $1500 for 3 pages",
            "Delivery by 2026-12-01, 2 revisions",
            "Version 1.2.3 of the app",
            "Order #4821 is ready",
        ] {
            assert_eq!(
                screen(text, false),
                Screened {
                    text: text.to_owned(),
                    flagged: false
                },
                "{text}"
            );
        }
    }

    #[test]
    fn emails_including_spelled_out_ones_are_masked() {
        assert_eq!(masked("write to ada@example.com today"), "write to [hidden] today");
        assert_eq!(masked("ada (at) example (dot) com"), "[hidden]");
        assert_eq!(masked("ada at example dot co dot uk"), "[hidden]");
        assert_eq!(masked("first.last+gm@mail.example.org"), "[hidden]");
    }

    #[test]
    fn contact_keywords_are_masked() {
        assert_eq!(masked("let's talk on WhatsApp"), "let's talk on [hidden]");
        assert_eq!(masked("Call me tomorrow"), "[hidden] tomorrow");
        assert_eq!(masked("my number is below"), "[hidden] is below");
        assert_eq!(masked("just pay me directly via PayPal"), "just [hidden] via [hidden]");
        assert_eq!(masked("find me on telegram"), "find me on [hidden]");
    }

    #[test]
    fn the_handle_after_a_platform_name_goes_with_it() {
        assert_eq!(masked("my telegram is jane_doe88"), "my [hidden]");
        assert_eq!(masked("Skype: live:jane.doe"), "[hidden]");
        assert_eq!(masked("venmo @Jane-Doe-12 please"), "[hidden] [hidden] please");
        assert_eq!(masked("discord janedoe#1234"), "[hidden] [hidden]");
        // A plain word after the name is kept.
        assert_eq!(masked("find me on telegram tomorrow"), "find me on [hidden] tomorrow");
    }

    #[test]
    fn payment_apps_upi_ids_and_cashtags_are_masked() {
        assert_eq!(masked("can you gpay me?"), "can you [hidden] me?");
        assert_eq!(masked("paytm is fine"), "[hidden] is fine");
        assert_eq!(masked("upi jane99@okaxis"), "[hidden] [hidden]");
        assert_eq!(masked("send it to $janedoe"), "send it to [hidden]");
    }

    #[test]
    fn numbers_spelled_out_in_words_are_masked() {
        assert_eq!(
            masked("call nine one seven five five five one two three four"),
            "call [hidden]"
        );
        assert_eq!(masked("it's 555 one two three four ok"), "it's [hidden] ok");
        assert_eq!(
            masked("one or two revisions, three at most"),
            "one or two revisions, three at most"
        );
    }

    #[test]
    fn personal_sites_and_linkedin_profiles_are_masked() {
        assert_eq!(masked("see janedoe.dev/work"), "see [hidden]");
        assert_eq!(masked("https://www.linkedin.com/in/jane-doe/ ok"), "[hidden] ok");
        assert_eq!(masked("janedoe dot com"), "[hidden]");
        for text in [
            "logo.ai and brief.md attached",
            "Built on ASP.NET and Socket.IO",
            "Great work.Me too",
        ] {
            assert_eq!(masked(text), text);
        }
    }

    #[test]
    fn a_date_followed_by_a_time_is_no_phone_number() {
        for text in [
            "Can we meet on 15/03/2026 14:30?",
            "Booked for 12.12.2026 09:15",
            "Budget $1,200-1,500",
            "I worked there 2019-2024",
        ] {
            assert_eq!(masked(text), text);
        }
        assert_eq!(masked("on 15/03/2026 ring 555 123 4567"), "on 15/03/2026 ring [hidden]");
    }

    #[test]
    fn nothing_is_masked_once_the_parties_share_an_order() {
        let text = "WhatsApp me at +1 555 123 4567 or ada@example.com";
        assert_eq!(
            screen(text, true),
            Screened {
                text: text.to_owned(),
                flagged: false
            }
        );
        assert!(screen(text, false).flagged);
    }

    #[test]
    fn ordinary_messages_are_untouched() {
        let text = "Hi! I can start on Monday; the first milestone takes 5 days.";
        assert_eq!(
            screen(text, false),
            Screened {
                text: text.to_owned(),
                flagged: false
            }
        );
    }
}
