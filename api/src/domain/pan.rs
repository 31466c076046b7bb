//! Primary account numbers (card numbers, ISO/IEC 7812): finding them in text and masking them,
//! so that no text this service sends or logs carries one. A PAN here is a run of 12 to 19
//! ASCII digits, up to two separators (whitespace or ASCII punctuation) allowed between two of
//! them, that passes the Luhn check. Only whole
//! runs count, so longer reference numbers are not mistaken for cards.

/// Shortest and longest PAN in digits (ISO/IEC 7812-1 allows 8 to 19; issuers use 12 to 19).
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 12..=19;

/// Digits a masked PAN keeps at its end (PCI DSS allows the last four).
const KEPT_DIGITS: usize = 4;

/// Whether `text` holds a PAN.
pub fn contains_card_number(text: &str) -> bool {
    !card_number_spans(text).is_empty()
}

/// `text` with the digits of every PAN but the last four replaced by `*`, e.g.
/// `metadata.4111111111111111` → `metadata.************1111`. Text without a PAN comes back
/// unchanged.
pub fn mask_card_numbers(text: &str) -> String {
    let spans = card_number_spans(text);
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut masked = String::with_capacity(text.len());
    let mut spans = spans.into_iter().peekable();
    for (index, c) in text.char_indices() {
        while spans.peek().is_some_and(|span| index >= span.end) {
            spans.next();
        }
        match spans.peek() {
            Some(span) if index >= span.start && c.is_ascii_digit() && index < span.masked_end => {
                masked.push('*');
            }
            _ => masked.push(c),
        }
    }
    masked
}

/// `text` cut to at most `max_chars` characters, with every card number masked: both in the
/// text as given and in the cut text (a cut can turn a longer digit run into a PAN). For input
/// echoed in an error, such as a field path.
pub fn bounded_masked(text: &str, max_chars: usize) -> String {
    let mut masked = mask_card_numbers(text);
    if let Some((cut, _)) = masked.char_indices().nth(max_chars) {
        masked.truncate(cut);
    }
    mask_card_numbers(&masked)
}

/// Separators written between digit groups (`4111 1111`, `4111-1111`, `4111.1111`,
/// `4111/1111`, `4111_1111`, a no-break space …): any whitespace or ASCII punctuation.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation()
}

/// Separators allowed in a row between two digits (`4111  1111` still counts).
const MAX_SEPARATOR_RUN: usize = 2;

/// Byte range of one PAN in a text, and where its masked part ends.
struct Span {
    start: usize,
    end: usize,
    masked_end: usize,
}

fn card_number_spans(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    // Digits of the current run with their byte offsets.
    let mut run: Vec<(usize, u32)> = Vec::new();
    let mut separators = 0;
    let end = text.len();
    // A final non-digit, non-separator closes the last run.
    for (index, c) in text.char_indices().chain(std::iter::once((end, 'x'))) {
        if let Some(digit) = c.to_digit(10) {
            run.push((index, digit));
            separators = 0;
        } else if is_separator(c) && !run.is_empty() && separators < MAX_SEPARATOR_RUN {
            separators += 1;
        } else {
            if PAN_DIGITS.contains(&run.len()) && luhn(run.iter().map(|&(_, d)| d)) {
                let first = run.first().map_or(0, |&(i, _)| i);
                let last = run.last().map_or(0, |&(i, _)| i + 1);
                let kept_from = run
                    .len()
                    .checked_sub(KEPT_DIGITS)
                    .and_then(|k| run.get(k))
                    .map_or(last, |&(i, _)| i);
                spans.push(Span {
                    start: first,
                    end: last,
                    masked_end: kept_from,
                });
            }
            run.clear();
            separators = 0;
        }
    }
    spans
}

/// The Luhn (mod 10) check of ISO/IEC 7812-1 Annex B.
fn luhn(digits: impl DoubleEndedIterator<Item = u32>) -> bool {
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_luhn_valid_runs_only() {
        assert!(contains_card_number("4111111111111111"));
        assert!(contains_card_number("card 4111 1111 1111 1111 here"));
        assert!(contains_card_number("4111-1111-1111-1111"));
        for written in [
            "4111.1111.1111.1111",
            "4111_1111_1111_1111",
            "4111/1111/1111/1111",
            "4111:1111:1111:1111",
            "4111  1111  1111  1111",
            "4111\u{a0}1111\u{a0}1111\u{a0}1111",
        ] {
            assert!(contains_card_number(written), "{written}");
            assert!(
                !contains_card_number(&mask_card_numbers(written)),
                "{written}"
            );
        }
        assert!(!contains_card_number("4111111111111112"));
        assert!(!contains_card_number("order 12345"));
        // 20 digits: a reference number, not a card.
        assert!(!contains_card_number("41111111111111110000"));
    }

    #[test]
    fn masks_all_but_the_last_four_digits() {
        assert_eq!(
            mask_card_numbers("metadata.4111111111111111"),
            "metadata.************1111"
        );
        assert_eq!(
            mask_card_numbers("a 4111 1111 1111 1111 b 4111111111111111"),
            "a **** **** **** 1111 b ************1111"
        );
        assert_eq!(mask_card_numbers("order_id"), "order_id");
        assert_eq!(mask_card_numbers("4111111111111112"), "4111111111111112");
        // A cut that turns a 20-digit run into a PAN is masked too.
        let path = format!("{}41111111111111110000", "a".repeat(85));
        assert!(!contains_card_number(&bounded_masked(&path, 100)));
        assert!(!contains_card_number(&mask_card_numbers(
            "x4111111111111111y 5500-0000-0000-0004"
        )));
    }
}
