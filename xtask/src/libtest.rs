//! Reads libtest's summary lines out of `cargo test` output.
//!
//! Every test binary (and every doc-test run) ends with one line such as
//! `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s`.
//! A tier adds them up, so it can fail a run that executed no test at all,
//! which cargo itself reports as success.

/// Tests counted over all the summary lines of one tier.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
}

impl TestCounts {
    /// Adds the counts of `line` when it is a libtest summary line.
    pub fn record_line(&mut self, line: &str) {
        if let Some(counts) = parse_summary_line(line) {
            self.passed += counts.passed;
            self.failed += counts.failed;
        }
    }
}

/// The counts of one libtest summary line, or `None` for any other line.
pub fn parse_summary_line(line: &str) -> Option<TestCounts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    // After the verdict (`ok.` or `FAILED.`) come `; `-separated `<n> <what>` pairs.
    let (_verdict, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split("; ") {
        let Some((number, what)) = part.trim().split_once(' ') else {
            continue;
        };
        match what {
            "passed" => passed = number.parse().ok(),
            "failed" => failed = number.parse().ok(),
            _ => {}
        }
    }
    Some(TestCounts {
        passed: passed?,
        failed: failed?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: u64, failed: u64) -> Option<TestCounts> {
        Some(TestCounts { passed, failed })
    }

    #[test]
    fn parses_summary_lines_and_nothing_else() {
        let cases = [
            (
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
                counts(12, 0),
            ),
            (
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
                counts(3, 2),
            ),
            (
                "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
                counts(0, 0),
            ),
            (
                "  test result: ok. 1 passed; 0 failed; 0 ignored",
                counts(1, 0),
            ),
            ("test tiers::tests::names_are_unique ... ok", None),
            ("running 3 tests", None),
            ("test result: ok. many passed; 0 failed", None),
            ("", None),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_summary_line(line), expected, "line: {line:?}");
        }
    }

    #[test]
    fn adds_up_the_lines_of_a_run() {
        let output = "\
running 2 tests
test a ... ok
test b ... FAILED
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
   Doc-tests saga_domain
test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.30s";
        let mut total = TestCounts::default();
        output.lines().for_each(|line| total.record_line(line));
        assert_eq!(
            total,
            TestCounts {
                passed: 5,
                failed: 1
            }
        );
    }
}
