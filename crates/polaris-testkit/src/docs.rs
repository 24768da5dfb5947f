//! Generated sections of the documentation: a test checks that the text between two markers of
//! a Markdown file is what the code generates, and rewrites it when `UPDATE_DOCS` is set.

/// Checks that the section of `doc` (a path) between the lines `begin` and `end` is
/// `generated`; with `UPDATE_DOCS` in the environment, writes it there instead.
pub fn check_generated_section(doc: &str, begin: &str, end: &str, generated: &str) {
    let text = std::fs::read_to_string(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let start = text.find(begin).expect("section start marker") + begin.len();
    let stop = start + text[start..].find(end).expect("section end marker");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{generated}{}", &text[..start], &text[stop..]);
        std::fs::write(doc, updated).unwrap_or_else(|e| panic!("{doc}: {e}"));
        return;
    }
    assert_eq!(
        &text[start..stop],
        generated,
        "run with UPDATE_DOCS=1 to regenerate"
    );
}
