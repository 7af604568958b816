//! What every console page shares: the HTML shell with its header and
//! style sheet, the status badge, JSON pretty-printing and the encoding of
//! values put in a link's query string.
//!
//! Pages are `maud` templates: the markup is checked when the crate
//! compiles, and every spliced value is HTML-escaped unless it is wrapped in
//! `PreEscaped`, which only the constant style sheet is.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// How the pages show when something started.
pub const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// A no-break space: keeps the header's and summaries' gaps without an entity.
pub const NBSP: &str = "\u{a0}";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#232f3e;color:#fff;padding:12px 24px}header a{color:#fff;margin-right:18px;text-decoration:none}\
main{padding:16px 24px}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left;vertical-align:top;font-size:14px}\
th{background:#eef0f3}pre{margin:0;white-space:pre-wrap;word-break:break-all;max-height:240px;overflow:auto;font-size:12px}\
.s{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}\
.SUCCEEDED{background:#d5f5e3;color:#145a32}.FAILED,.TIMED_OUT{background:#fadbd8;color:#78281f}\
.RUNNING{background:#d6eaf8;color:#1b4f72}.ABORTED{background:#e5e7e9;color:#424949}\
.filters a{margin-right:12px}.box{background:#fff;padding:12px;margin:12px 0;border:1px solid #e3e6ea}\
button{background:#ec7211;color:#fff;border:0;padding:6px 14px;border-radius:3px;cursor:pointer;font-weight:600}\
.err{color:#78281f}.note{color:#5d6d7e;font-size:13px}";

/// A whole page: the title both in `<title>` and as the heading, then `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - saga-local" }
                // CSS is raw text in HTML (entities are not decoded there),
                // so it goes in as is; it is this constant, never input.
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "saga-local" }
                    " " (NBSP) " "
                    a href="/console" { "Executions" }
                    a href="/console/queues" { "Dead-letter queues" }
                    a href="/console/metrics" { "Metrics" }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A status as a coloured badge: the status is also its CSS class, which the
/// browser test selects on (`.s.FAILED`).
pub fn badge(status: &str) -> Markup {
    html! {
        span class={ "s " (status) } { (status) }
    }
}

/// The hidden field that carries the CSRF token: every form has one.
pub fn csrf_field(token: &str) -> Markup {
    html! {
        input type="hidden" name=(super::csrf::FIELD) value=(token);
    }
}

/// Pretty JSON text for display, or the text as is.
pub fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// RFC 3986's unreserved characters stay, everything else is %-encoded: an
/// execution ARN is full of `:` and a message may hold `&` or `#`.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` made safe as one query-string value.
pub fn encode_query(text: &str) -> String {
    utf8_percent_encode(text, QUERY_COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        let cases = [
            ("arn:aws:states:x y", "arn%3Aaws%3Astates%3Ax%20y"),
            ("a&b=c#d", "a%26b%3Dc%23d"),
            ("Az09-_.~", "Az09-_.~"),
            ("é", "%C3%A9"),
        ];
        for (text, expected) in cases {
            assert_eq!(encode_query(text), expected, "{text}");
        }
    }

    #[test]
    fn the_title_and_a_badge_are_escaped() {
        let html = page("<script>x</script>", badge("<b>")).into_string();
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("<title>&lt;script&gt;x&lt;/script&gt; - saga-local</title>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"s &lt;b&gt;\">&lt;b&gt;</span>"),
            "{html}"
        );
    }
}
