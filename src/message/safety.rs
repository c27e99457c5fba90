//! The contact-detail safety filter (seed 004): until two parties share an order, phone
//! numbers, email addresses and off-platform contact keywords are masked, so deals are not
//! taken outside the marketplace before it can protect either side. The unmasked text is kept
//! for moderation whenever something was masked.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a masked span.
pub const MASK: &str = "[hidden]";

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        [a-z0-9._%+-]+ \s* (?: @ | \(at\) | \[at\] | \s at \s ) \s*
        [a-z0-9-]+ (?: \s* (?: \. | \(dot\) | \[dot\] | \s dot \s ) \s* [a-z0-9-]+ )+",
    )
    .unwrap_or_else(|e| unreachable!("email pattern: {e}"))
});

/// Runs of digits with the separators people put in phone numbers.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+?\(?\d(?:[\s().\-/]{0,3}\d){6,16}").unwrap_or_else(|e| unreachable!("phone pattern: {e}"))
});

/// Words that move a conversation off the platform.
static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix) \b (?:
            whats\s*app | telegram | signal\s+me | skype | wechat | viber | snapchat | instagram | insta
          | discord | call\s+me | text\s+me | phone\s+me | ring\s+me | my\s+(?:phone\s+|cell\s+|mobile\s+)?number
          | e-?mail\s+me | dm\s+me | contact\s+me\s+(?:at|on|via) | pay\s+(?:me\s+)?(?:directly|outside)
          | paypal | venmo | cash\s*app | zelle | off[\s-]platform | outside\s+(?:the|this)\s+(?:platform|site|app)
        ) \b",
    )
    .unwrap_or_else(|e| unreachable!("keyword pattern: {e}"))
});

/// The text participants see, and whether anything was masked.
#[derive(Debug, PartialEq, Eq)]
pub struct Screened {
    pub text: String,
    pub flagged: bool,
}

/// Counts the digits in a candidate phone match; dates and prices have fewer.
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
    let masked = EMAIL.replace_all(text, |_: &regex::Captures| {
        flagged = true;
        MASK
    });
    let masked = PHONE.replace_all(&masked, |caps: &regex::Captures| {
        let found = &caps[0];
        // Seven digits is the shortest local number; ISO dates (8 digits) are let through
        // only when written as dates.
        let looks_like_date =
            found.len() == 10 && found.as_bytes().get(4) == Some(&b'-') && found.as_bytes().get(7) == Some(&b'-');
        if digits(found) >= 7 && !looks_like_date {
            flagged = true;
            MASK.to_owned()
        } else {
            found.to_owned()
        }
    });
    let masked = KEYWORDS.replace_all(&masked, |_: &regex::Captures| {
        flagged = true;
        MASK
    });
    Screened {
        text: masked.into_owned(),
        flagged,
    }
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
