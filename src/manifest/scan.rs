//! Checks on the manifest's text and YAML event stream, made before the tree
//! is built, for what the tree cannot show: marked-yaml reads only the first
//! document, stops at the first duplicate key, and the scanner ends the input
//! at a NUL byte. Each check reports every place it finds, in one pass.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

use super::model::Pos;

/// One problem found: where, a short title, and the message.
pub type Found = (Pos, &'static str, String);

/// At most this many bad characters are listed; a binary file has millions.
const MAX_CHAR_ERRORS: usize = 20;

/// Characters YAML does not allow anywhere in a stream (YAML 1.2, 5.1
/// `c-printable`): C0 controls but tab and line feed (CR is gone after
/// `input::normalise_newlines`), DEL, C1 controls but NEL, U+FFFE and U+FFFF. The YAML
/// scanner stops at a NUL without an error, which would silently drop the
/// rest of the manifest; the others it reports a line or two away.
pub fn forbidden_chars(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    let (mut line, mut col) = (1, 1);
    let mut more = 0;
    for c in text.chars() {
        let bad = matches!(c, '\0'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}');
        if bad {
            if out.len() < MAX_CHAR_ERRORS {
                out.push((
                    Pos { line, col },
                    "control character",
                    format!(
                        "the manifest contains {} here; a manifest is text: remove it (write tab and newline as they are)",
                        describe(c)
                    ),
                ));
            } else {
                more += 1;
            }
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    if more > 0 {
        if let Some(last) = out.last_mut() {
            last.2.push_str(&format!(" ({more} more such characters are not listed)"));
        }
    }
    out
}

/// `control character U+001B (ESC)`
fn describe(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\u{7}' => " (BEL)",
        '\u{8}' => " (backspace)",
        '\u{1b}' => " (ESC)",
        '\u{7f}' => " (DEL)",
        _ => "",
    };
    format!("control character U+{:04X}{name}", c as u32)
}

/// Walks the YAML events once, reporting every duplicate key (not just the
/// first), a second document, and control characters written as escapes in
/// a quoted string (`"\e[31m"`, `"\0"`): tab and newline are text, the rest
/// can only hide or rewrite what a reader sees. Stops quietly at a syntax
/// error, which the tree builder then reports.
pub fn events(text: &str) -> Vec<Found> {
    enum Frame {
        Map { key_next: bool, keys: HashMap<String, Pos> },
        Seq,
    }
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    let mut parser = Parser::new_from_str(text);
    // A node starts: as a key, or as a value in its parent.
    let start = |stack: &mut Vec<Frame>, key: Option<(&str, Pos)>, out: &mut Vec<Found>| {
        if let Some(Frame::Map { key_next, keys }) = stack.last_mut() {
            if *key_next {
                if let Some((k, pos)) = key {
                    match keys.get(k) {
                        Some(first) => out.push((
                            pos,
                            "duplicate key",
                            format!("`{k}` is declared twice (first at line {}); remove one", first.line),
                        )),
                        None => {
                            keys.insert(k.to_string(), pos);
                        }
                    }
                }
            }
            *key_next = !*key_next;
        }
    };
    while let Ok((event, mark)) = parser.next_token() {
        let pos = Pos { line: mark.line().max(1), col: mark.col() + 1 };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents == 2 {
                    out.push((
                        pos,
                        "second document",
                        "a second YAML document starts here (after `---` or `...`); a manifest is one document, \
                         and secret-sync would not read this one: merge it into the first or remove it"
                            .into(),
                    ));
                    break;
                }
            }
            Event::MappingStart(..) => {
                start(&mut stack, None, &mut out);
                stack.push(Frame::Map { key_next: true, keys: HashMap::new() });
            }
            Event::SequenceStart(..) => {
                start(&mut stack, None, &mut out);
                stack.push(Frame::Seq);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, ..) => {
                if let Some(c) = value.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n')) {
                    out.push((
                        pos,
                        "control character",
                        format!(
                            "this string contains {}, written as an escape; a manifest may hold tab and newline, \
                             no other control characters: remove it",
                            describe(c)
                        ),
                    ));
                }
                start(&mut stack, Some((&value, pos)), &mut out);
            }
            Event::Alias(_) => start(&mut stack, None, &mut out),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_forbidden_character() {
        let found = forbidden_chars("a: 1\nb: x\0y\u{1b}\n\tc: ok\u{85}\n");
        let at: Vec<(usize, usize)> = found.iter().map(|(p, _, _)| (p.line, p.col)).collect();
        assert_eq!(at, [(2, 5), (2, 7)]);
        assert!(found[0].2.contains("U+0000 (NUL)"), "{}", found[0].2);
    }

    #[test]
    fn finds_every_duplicate_and_a_second_document() {
        let found = events("a: 1\nb:\n  x: 1\n  x: 2\na: 3\nc: \"\\e[31m\"\n---\nd: [\n");
        let shown: Vec<String> = found.iter().map(|(p, _, m)| format!("{}:{} {m}", p.line, p.col)).collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(shown[0].starts_with("4:3 `x` is declared twice (first at line 3)"), "{}", shown[0]);
        assert!(shown[1].starts_with("5:1 `a` is declared twice (first at line 1)"), "{}", shown[1]);
        assert!(shown[2].starts_with("6:4 this string contains control character U+001B (ESC)"), "{}", shown[2]);
        assert!(shown[3].starts_with("7:1 a second YAML document"), "{}", shown[3]);
    }
}
