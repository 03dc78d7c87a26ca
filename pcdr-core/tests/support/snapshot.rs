//! Snapshot checks of the JSON documents pcdr writes: the document as written now is
//! compared with the copy checked in under `tests/snapshots/`, and a difference fails
//! with a line diff. `PCDR_UPDATE_SNAPSHOTS=1` rewrites the checked-in copies instead,
//! to be reviewed and committed with the change (raising the document's
//! `schema_version` if a key was removed or renamed or changed meaning).
//!
//! Included by the unit tests of pcdr-core and of the `pcdr` command.

use std::path::Path;

/// Fails, showing the difference, unless the file at `path` holds `actual` followed by
/// a newline; with `PCDR_UPDATE_SNAPSHOTS` set, writes that text to the file instead.
pub fn assert_snapshot(path: &str, actual: &str) {
    let path = Path::new(path);
    let actual = format!("{actual}\n");
    if std::env::var_os("PCDR_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read the snapshot {} ({e}); PCDR_UPDATE_SNAPSHOTS=1 writes it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} is not the document written now (- snapshot, + now):\n{}\nIf the change is \
             meant, rewrite the snapshot with PCDR_UPDATE_SNAPSHOTS=1, review and commit it.",
            path.display(),
            line_diff(&expected, &actual)
        );
    }
}

/// The lines of `old` and `new` aligned on their longest common subsequence: `-` for a
/// line only in `old`, `+` for one only in `new`, two spaces for one in both.
fn line_diff(old: &str, new: &str) -> String {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    // common[i][j]: the length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut diff) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        let (mark, line) = if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
            (' ', old[i - 1])
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            i += 1;
            ('-', old[i - 1])
        } else {
            j += 1;
            ('+', new[j - 1])
        };
        diff.push_str(&format!("{mark} {line}\n"));
    }
    diff
}
