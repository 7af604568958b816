//! Trace context: which trace a span belongs to and which span is its
//! parent, as the two headers that carry it between services write it.
//!
//! - X-Ray's `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`:
//!   what Lambda hands a function (`Lambda-Runtime-Trace-Id`, the runtime's
//!   `xray_trace_id`), what StartExecution's `traceHeader` takes and what
//!   SQS keeps as a message's `AWSTraceHeader` system attribute;
//! - W3C's `traceparent`, `00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`:
//!   what an HTTP client sends.
//!
//! Both name the same 128-bit trace id (X-Ray's `1-{8 hex}-{24 hex}` is the
//! 32 hex digits split after the eighth) and the same 64-bit parent span id,
//! so one context reads and writes either.

use std::fmt;

/// A trace's id: 16 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A span's id: 8 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A new trace id whose first four bytes are `epoch_seconds`, as X-Ray
    /// requires of the traces it accepts (and W3C allows), the other twelve
    /// random.
    pub fn random(epoch_seconds: u32) -> Self {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&epoch_seconds.to_be_bytes());
        let random = fastrand::u128(1..).to_be_bytes();
        bytes[4..].copy_from_slice(&random[4..]);
        if bytes[4..].iter().all(|b| *b == 0) {
            bytes[15] = 1;
        }
        Self(bytes)
    }

    /// A new trace id stamped with the system clock's seconds.
    pub fn new() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Self::random(u32::try_from(seconds).unwrap_or(u32::MAX))
    }

    /// From 32 hex digits; `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = decode_hex::<16>(hex)?;
        (bytes != [0; 16]).then_some(Self(bytes))
    }
}

impl Default for TraceId {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanId {
    /// A new random span id.
    pub fn random() -> Self {
        Self(fastrand::u64(1..).to_be_bytes())
    }

    /// A span id derived from `parts`, the same for the same parts: spans
    /// that are rebuilt from a record (an execution's history) keep their
    /// ids, so children made earlier still find them. FNV-1a, 64 bits.
    pub fn derived(parts: &[&str]) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for byte in part.bytes().chain([0xff]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        Self(hash.max(1).to_be_bytes())
    }

    /// From 16 hex digits; `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = decode_hex::<8>(hex)?;
        (bytes != [0; 8]).then_some(Self(bytes))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn decode_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != 2 * N || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0; N];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(bytes)
}

/// Where a span sits: its trace, its parent (none for a trace's first
/// span) and whether the trace is sampled (recorded and exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span the next span is a child of.
    pub parent: Option<SpanId>,
    /// Whether spans of this trace are recorded.
    pub sampled: bool,
}

impl TraceContext {
    /// The context of a new sampled trace, with no parent.
    pub fn new_trace() -> Self {
        Self {
            trace_id: TraceId::new(),
            parent: None,
            sampled: true,
        }
    }

    /// From either header, X-Ray's or W3C's; `None` when it is neither.
    pub fn from_header(header: &str) -> Option<Self> {
        let header = header.trim();
        Self::from_traceparent(header).or_else(|| Self::from_xray(header))
    }

    /// From an X-Ray trace header. `Root` is required; `Parent` and
    /// `Sampled` (default: sampled, as a caller that has not decided leaves
    /// it to the receiver) are optional; other fields (`Lineage`, `Self`)
    /// are ignored.
    pub fn from_xray(header: &str) -> Option<Self> {
        let mut trace_id = None;
        let mut parent = None;
        let mut sampled = true;
        for field in header.split(';') {
            let (key, value) = field.split_once('=')?;
            match key.trim() {
                "Root" => {
                    let mut parts = value.trim().split('-');
                    let (Some("1"), Some(time), Some(random), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        return None;
                    };
                    if time.len() != 8 || random.len() != 24 {
                        return None;
                    }
                    trace_id = Some(TraceId::from_hex(&format!("{time}{random}"))?);
                }
                "Parent" => parent = Some(SpanId::from_hex(value.trim())?),
                "Sampled" => sampled = value.trim() != "0",
                _ => {}
            }
        }
        Some(Self {
            trace_id: trace_id?,
            parent,
            sampled,
        })
    }

    /// From a W3C `traceparent` of version 00 (or a later version's first
    /// four fields, as the specification asks).
    pub fn from_traceparent(header: &str) -> Option<Self> {
        let mut parts = header.split('-');
        let version = parts.next()?;
        let trace_id = TraceId::from_hex(parts.next()?)?;
        let parent = SpanId::from_hex(parts.next()?)?;
        let flags = decode_hex::<1>(parts.next()?)?[0];
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        Some(Self {
            trace_id,
            parent: Some(parent),
            sampled: flags & 1 == 1,
        })
    }

    /// As an X-Ray trace header.
    pub fn to_xray(&self) -> String {
        let hex = self.trace_id.to_string();
        let mut header = format!("Root=1-{}-{}", &hex[..8], &hex[8..]);
        if let Some(parent) = self.parent {
            header.push_str(&format!(";Parent={parent}"));
        }
        header.push_str(if self.sampled {
            ";Sampled=1"
        } else {
            ";Sampled=0"
        });
        header
    }

    /// As a W3C `traceparent`; `None` without a parent, which it requires.
    pub fn to_traceparent(&self) -> Option<String> {
        let parent = self.parent?;
        Some(format!(
            "00-{}-{parent}-{}",
            self.trace_id,
            if self.sampled { "01" } else { "00" }
        ))
    }

    /// The same trace with `span` as the parent.
    pub fn child_of(&self, span: SpanId) -> Self {
        Self {
            parent: Some(span),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xray_header_and_a_traceparent_name_the_same_ids() {
        let xray = TraceContext::from_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .expect("an X-Ray header");
        let w3c =
            TraceContext::from_header("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
                .expect("a traceparent");
        assert_eq!(xray, w3c);
        assert_eq!(
            xray.to_xray(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        assert_eq!(
            xray.to_traceparent().as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
    }

    #[test]
    fn optional_fields_and_unsampled_traces_read_as_aws_writes_them() {
        let lambda = TraceContext::from_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1",
        )
        .unwrap();
        assert!(!lambda.sampled);
        let root_only =
            TraceContext::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(root_only.parent, None);
        assert!(root_only.sampled);
        assert_eq!(root_only.to_traceparent(), None);
        let unsampled = TraceContext::from_traceparent(
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00",
        )
        .unwrap();
        assert!(!unsampled.sampled);
        assert!(unsampled.to_xray().ends_with(";Sampled=0"));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8",
            "Root=1-00000000-000000000000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz",
            "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra",
            "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8",
        ] {
            assert_eq!(TraceContext::from_header(header), None, "{header:?}");
        }
    }

    #[test]
    fn new_ids_are_stamped_and_distinct() {
        let id = TraceId::random(0x5759_e988);
        assert_eq!(id.to_string()[..8], *"5759e988");
        assert_ne!(TraceId::random(0x5759_e988), id);
        assert_ne!(SpanId::random(), SpanId::random());
        assert_eq!(TraceId::from_hex(&id.to_string()), Some(id));
    }

    #[test]
    fn derived_span_ids_depend_on_every_part_and_its_boundaries() {
        let id = SpanId::derived(&["arn:aws:states:us-east-1:1:execution:m:o", "0"]);
        assert_eq!(
            id,
            SpanId::derived(&["arn:aws:states:us-east-1:1:execution:m:o", "0"])
        );
        assert_ne!(
            id,
            SpanId::derived(&["arn:aws:states:us-east-1:1:execution:m:o", "1"])
        );
        assert_ne!(SpanId::derived(&["ab", "c"]), SpanId::derived(&["a", "bc"]));
    }
}
