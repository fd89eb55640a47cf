//! Text from a manifest or a secrets payload is untrusted: a pull request's
//! author writes the manifest that its `validate` check reads. It reaches
//! three channels only through this module, one function per channel:
//!
//! - [`markdown`]: the job summary (and the summary printed to a terminal);
//! - [`terminal`]: lines printed for a person (diagnostics, usage errors);
//! - [`env_comment`]: a comment line in a generated `.env.example`.
//!
//! Workflow commands are the fourth channel; their escaping lives in
//! `actions` (`escape_data`, `escape_property`, `print_text`), the one place
//! that speaks the runner's protocol. JSON (the report) escapes itself.

use std::fmt::Write as _;

/// Characters that move the cursor, change colours, reorder text (bidi
/// controls) or end a line, and so must never be shown raw: C0 and C1
/// controls, DEL, the Unicode line and paragraph separators, and the bidi
/// embedding, override and isolate characters.
fn is_hazard(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `\n`, `\t`, `\r`, else `\u{1b}`: a visible, unambiguous spelling.
fn visible(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// For a terminal: one line, with every control character, escape sequence
/// and line break shown as `\n`, `\u{1b}`… so manifest text can neither start
/// a new line nor drive the terminal.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hazard(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// For one comment line of a generated file (`# …` in `.env.example`): line
/// breaks become spaces, so the text cannot start a `NAME=value` line of its
/// own; other control characters are shown as `\u{…}`.
pub fn env_comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if is_hazard(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// Renders program text in which `` `…` `` quotes names (the way every
/// message of this program is written) as Markdown that is safe in a table
/// cell, in running text and inside an HTML block such as `<summary>`:
///
/// - quoted parts become code spans; outside them, `<`, `>`, `&` and the
///   Markdown punctuation that could start a link, image, emphasis, heading
///   or cell (`\ * _ [ ] ~ | # ! \``) become numeric character references,
///   which Markdown shows as the character and never reads as syntax, and
///   which read the same inside an HTML element (`<summary><code>…`), where
///   a backslash escape would show;
/// - inside code spans `<` and `>` are entities too (shown literally in a
///   code span, but never a tag if the span ends up in an HTML block), and
///   `|` is escaped so a cell does not split;
/// - line breaks become spaces (a table row is one line), and other control
///   characters are shown as `\u{…}`.
///
/// A backtick inside a quoted name can only shift which parts are code; each
/// part is escaped for what it becomes, so the result is safe either way.
pub fn markdown(s: &str) -> String {
    let mut flat = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' | '\u{85}' | '\u{2028}' | '\u{2029}' => flat.push(' '),
            c if is_hazard(c) => visible(c, &mut flat),
            c => flat.push(c),
        }
    }
    let parts: Vec<&str> = flat.split('`').collect();
    let paired = parts.len() % 2 == 1; // an even number of backticks
    let mut out = String::with_capacity(flat.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            // Outside quotes (the backtick before it closed a code span).
            markdown_text(part, &mut out);
        } else if !paired && i + 1 == parts.len() {
            // After an unpaired last backtick.
            out.push_str("&#96;");
            markdown_text(part, &mut out);
        } else if part.is_empty() {
            out.push_str("&#96;&#96;");
        } else {
            out.push('`');
            for c in part.chars() {
                match c {
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '|' => out.push_str("\\|"),
                    c => out.push(c),
                }
            }
            out.push('`');
        }
    }
    out
}

fn markdown_text(s: &str, out: &mut String) {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // `_` between two letters or digits never starts emphasis
            // (CommonMark forbids intraword `_` emphasis): `invalid_grant`
            // stays readable in the raw text.
            '_' if i > 0 && chars[i - 1].is_alphanumeric() && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) => {
                out.push('_')
            }
            '\\' | '*' | '_' | '[' | ']' | '~' | '|' | '#' | '!' | '`' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_controls_and_keeps_one_line() {
        assert_eq!(terminal("a\nb\r\x1b[31mc\u{202e}d"), "a\\nb\\r\\u{1b}[31mc\\u{202e}d");
        assert_eq!(terminal("plain `text` ü"), "plain `text` ü");
    }

    #[test]
    fn env_comment_cannot_start_a_line() {
        assert_eq!(env_comment("x\nEVIL=1\r\u{2028}y\x07"), "x EVIL=1  y\\u{7}");
    }

    #[test]
    fn markdown_quotes_become_safe_code_spans() {
        assert_eq!(markdown("`NAME` is missing"), "`NAME` is missing");
        assert_eq!(markdown("key `k<img src=x>|y` here"), "key `k&lt;img src=x&gt;\\|y` here");
        assert_eq!(
            markdown("a *b* [c](d) <img> & _e_ | #f ![g]"),
            "a &#42;b&#42; &#91;c&#93;(d) &lt;img&gt; &amp; &#95;e&#95; &#124; &#35;f &#33;&#91;g&#93;"
        );
        assert_eq!(markdown("x\r\ny\n::add-mask::z"), "x  y ::add-mask::z");
        assert_eq!(markdown("odd ` tick"), "odd &#96; tick");
        assert_eq!(markdown("``"), "&#96;&#96;");
        assert_eq!(markdown("`a`b`<c>"), "`a`b&#96;&lt;c&gt;");
        assert_eq!(markdown("\x1b[2J"), "&#92;u{1b}&#91;2J");
        assert_eq!(markdown("fly:my_app _x_"), "fly:my_app &#95;x&#95;");
    }
}
