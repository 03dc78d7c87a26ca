//! The objects cmdlets emit and `ConvertTo-Json`'s rendering of them.
//!
//! This module owns the value model of the pipeline and the JSON text; it
//! knows nothing about cmdlets or the world. The rendering follows Windows
//! PowerShell 5.1, the host of the Skype for Business Management Shell:
//! properties keep their declaration order, `-Compress` puts everything on
//! one line, the expanded form indents by four spaces and writes two spaces
//! after a colon, and strings escape `<`, `>`, `&` and `'` as `\u003c`-style
//! sequences like its JavaScriptSerializer does.

use std::fmt::Write as _;

/// A value flowing through a pipeline. The emulated cmdlets write only
/// strings and flat objects of strings, so there are no other scalars.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: property names and values in declaration order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON text of this value, on one line when `compress` is set.
    pub(super) fn render(&self, compress: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, compress, 0);
        out
    }

    fn write(&self, out: &mut String, compress: bool, level: usize) {
        match self {
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                write_container(out, ('[', ']'), items, compress, level, |out, item| {
                    item.write(out, compress, level + 1);
                })
            }
            Json::Object(props) => write_container(
                out,
                ('{', '}'),
                props,
                compress,
                level,
                |out, (key, value)| {
                    write_string(out, key);
                    out.push_str(if compress { ":" } else { ":  " });
                    value.write(out, compress, level + 1);
                },
            ),
        }
    }
}

/// Writes `open`, the items separated by commas (each on its own indented
/// line unless `compress`), then `close`.
fn write_container<T>(
    out: &mut String,
    (open, close): (char, char),
    items: &[T],
    compress: bool,
    level: usize,
    mut item: impl FnMut(&mut String, &T),
) {
    out.push(open);
    for (i, each) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !compress {
            newline_indent(out, level + 1);
        }
        item(out, each);
    }
    if !compress && !items.is_empty() {
        newline_indent(out, level);
    }
    out.push(close);
}

fn newline_indent(out: &mut String, level: usize) {
    out.push('\n');
    out.push_str(&"    ".repeat(level));
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if c.is_control() || matches!(c, '<' | '>' | '&' | '\'') => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Json {
        Json::Object(vec![
            ("Identity".into(), Json::String("service:p".into())),
            ("PoolState".into(), Json::String("Normal".into())),
        ])
    }

    #[test]
    fn compressed_object_keeps_declaration_order_on_one_line() {
        assert_eq!(
            state().render(true),
            r#"{"Identity":"service:p","PoolState":"Normal"}"#
        );
    }

    #[test]
    fn expanded_object_indents_like_windows_powershell() {
        assert_eq!(
            state().render(false),
            "{\n    \"Identity\":  \"service:p\",\n    \"PoolState\":  \"Normal\"\n}"
        );
    }

    #[test]
    fn strings_escape_quotes_controls_and_html_characters() {
        let text = Json::String("a\"b\\c\n<'&>\u{1}é".into()).render(true);
        assert_eq!(text, r#""a\"b\\c\n\u003c\u0027\u0026\u003e\u0001é""#);
    }

    #[test]
    fn arrays_and_empty_containers_render() {
        let value = Json::Array(vec![Json::String("a".into()), state()]);
        assert_eq!(
            value.render(true),
            r#"["a",{"Identity":"service:p","PoolState":"Normal"}]"#
        );
        assert_eq!(Json::Array(Vec::new()).render(false), "[]");
        assert_eq!(Json::Object(Vec::new()).render(false), "{}");
    }
}
