//! The C# wrapper's `ResultCode` (pcdr-ffi/csharp/Pcdr.cs) lists exactly the result codes
//! of the C header (include/pcdr.h, generated from `pcdr_result` and checked against it by
//! scripts/test-ffi): the same names and the same numbers. Both files are parsed as text.

use std::collections::BTreeMap;
use std::path::Path;

/// A code's name in the C# spelling (`StepSqlServer`) and its number.
type Codes = BTreeMap<String, u32>;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text between the `{` after `start` and the next `}`.
fn body<'a>(text: &'a str, start: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}"));
    let open = from + text[from..].find('{').expect("an opening brace");
    let close = open + text[open..].find('}').expect("a closing brace");
    &text[open + 1..close]
}

/// `NAME = 12` (either language's spelling) as a name and a number.
fn entry(item: &str) -> (&str, u32) {
    let (name, number) = item
        .split_once('=')
        .unwrap_or_else(|| panic!("not NAME = NUMBER: {item}"));
    let number = number
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{item}: {e}"));
    (name.trim(), number)
}

/// `STEP_SQL_SERVER` as `StepSqlServer`.
fn pascal_case(screaming_snake: &str) -> String {
    screaming_snake
        .split('_')
        .map(|word| {
            let (first, rest) = word.split_at(1);
            first.to_owned() + &rest.to_ascii_lowercase()
        })
        .collect()
}

/// The enumerators of `enum pcdr_result` in the header, without their `PCDR_RESULT_`.
fn header_codes(header: &str) -> Codes {
    body(header, "enum pcdr_result")
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("PCDR_RESULT_"))
        .map(|line| entry(line.trim_end_matches(',')))
        .map(|(name, number)| (pascal_case(&name["PCDR_RESULT_".len()..]), number))
        .collect()
}

/// The members of `enum ResultCode` in the C# wrapper, its `//` comments dropped.
fn csharp_codes(source: &str) -> Codes {
    let code: String = body(source, "public enum ResultCode")
        .lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, number) = entry(item);
            (name.to_owned(), number)
        })
        .collect()
}

#[test]
fn the_csharp_result_codes_are_the_headers() {
    let header = header_codes(&read("../include/pcdr.h"));
    let csharp = csharp_codes(&read("csharp/Pcdr.cs"));
    assert!(
        header.len() > 20,
        "the header's codes were not found: {header:?}"
    );
    assert_eq!(csharp, header);
}

#[test]
fn the_parsers_read_both_spellings() {
    let header = "enum pcdr_result\n#if x\n  : uint32_t\n#endif\n {\n  // Success.\n  \
                  PCDR_RESULT_OK = 0,\n  PCDR_RESULT_INVALID_UTF8 = 901,\n};";
    let csharp = "public enum ResultCode : uint\n{\n    Ok = 0, // none\n    InvalidUtf8 = 901,\n}";
    let expected: Codes = [("Ok".to_owned(), 0), ("InvalidUtf8".to_owned(), 901)].into();
    assert_eq!(header_codes(header), expected);
    assert_eq!(csharp_codes(csharp), expected);
}
