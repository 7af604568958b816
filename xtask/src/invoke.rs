//! `cargo xtask invoke <function> <event-file> [--endpoint URL]`: one
//! function, one event, through the local cloud's Lambda Invoke API; what
//! `sam local invoke <function> -e <event-file>` does, without a container
//! runtime.
//!
//! `<function>` is what the template calls it (`ReserveFunction`), its
//! deployed name or its binary name (`reserve`). The call goes to the local
//! cloud at `--endpoint`, by default the one `cargo xtask up` serves on
//! `http://127.0.0.1:4000`; when nothing answers there (and no `--endpoint`
//! was given) it starts what it needs (DynamoDB Local, moto and saga-local
//! with the demo catalog, on a free port), invokes, and stops them.
//!
//! It prints the status, the function error if any, the response (pretty
//! JSON) and the log tail (`X-Amz-Log-Type: Tail`). It exits 0 when the
//! function succeeded, 1 when the function failed, and 2 when the call
//! itself failed (no such function, no local cloud, a bad event file).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::up;

/// The exit code when the call itself failed (not the function).
const CALL_FAILED: u8 = 2;

/// The options of `cargo xtask invoke`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct InvokeOptions {
    /// The function: its logical id in template.yaml (ReserveFunction), its
    /// name, or its binary name (reserve).
    pub function: String,
    /// The event file (JSON), e.g. events/reserve/success.json.
    pub event: PathBuf,
    /// The local cloud to call [default: the one `cargo xtask up` serves on
    /// http://127.0.0.1:4000, else one started for this call].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

/// What an Invoke call answered.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Runs the command: 0 when the function succeeded, 1 when it failed, 2
/// when the call did not happen.
pub fn run(root: &Path, options: &InvokeOptions) -> Result<ExitCode> {
    match call(root, options) {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            Ok(ExitCode::from(CALL_FAILED))
        }
    }
}

fn call(root: &Path, options: &InvokeOptions) -> Result<ExitCode> {
    let event_path = if options.event.is_absolute() {
        options.event.clone()
    } else {
        std::env::current_dir()
            .context("no current directory")?
            .join(&options.event)
    };
    let event = std::fs::read(&event_path)
        .with_context(|| format!("cannot read the event file {}", event_path.display()))?;
    serde_json::from_slice::<serde_json::Value>(&event)
        .with_context(|| format!("{} is not JSON", event_path.display()))?;
    if let Some(endpoint) = &options.endpoint {
        let address = socket_address(endpoint)?;
        return invoke_and_print(address, &options.function, &event);
    }
    let default = SocketAddr::from(([127, 0, 0, 1], up::DEFAULT_PORT));
    if up::health_status(up::DEFAULT_PORT) == Some(200) {
        return invoke_and_print(default, &options.function, &event);
    }
    eprintln!(
        "xtask: no local cloud answers on {default}; starting one for this invocation \
         (`cargo xtask up` keeps one running)"
    );
    // Ctrl-C stops the processes started here, as it does for `up`;
    // dropping `cloud` stops them too.
    let cloud = up::start_on_free_port(root, &[], None)?;
    invoke_and_print(socket_address(&cloud.url)?, &options.function, &event)
}

/// `http://127.0.0.1:4000` (the Invoke API is served on loopback only).
fn socket_address(endpoint: &str) -> Result<SocketAddr> {
    let authority = endpoint
        .strip_prefix("http://")
        .with_context(|| format!("--endpoint {endpoint:?} must be http://127.0.0.1:PORT"))?
        .trim_end_matches('/');
    authority
        .parse()
        .with_context(|| format!("--endpoint {endpoint:?} must be http://127.0.0.1:PORT"))
}

fn invoke_and_print(address: SocketAddr, function: &str, event: &[u8]) -> Result<ExitCode> {
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        percent_encode_segment(function)
    );
    let answer = post(address, &path, event)
        .with_context(|| format!("cannot reach the local cloud on http://{address}"))?;
    if answer.status != 200 {
        bail!(
            "Invoke answered {} {}: {}",
            answer.status,
            answer.header("x-amzn-errortype").unwrap_or(""),
            String::from_utf8_lossy(&answer.body)
        );
    }
    print!("{}", render(&answer)?);
    let _ = std::io::stdout().flush();
    Ok(if answer.header("x-amz-function-error").is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The status, function error, response and log tail, as printed.
fn render(answer: &Answer) -> Result<String> {
    let mut out = format!("StatusCode: {}\n", answer.status);
    if let Some(version) = answer.header("x-amz-executed-version") {
        out.push_str(&format!("ExecutedVersion: {version}\n"));
    }
    if let Some(error) = answer.header("x-amz-function-error") {
        out.push_str(&format!("function error: {error}\n"));
    }
    let response = match serde_json::from_slice::<serde_json::Value>(&answer.body) {
        Ok(json) => serde_json::to_string_pretty(&json)?,
        Err(_) => String::from_utf8_lossy(&answer.body).into_owned(),
    };
    out.push_str(&format!("response:\n{response}\n"));
    if let Some(encoded) = answer.header("x-amz-log-result") {
        match STANDARD.decode(encoded) {
            Ok(logs) => out.push_str(&format!("log tail:\n{}", String::from_utf8_lossy(&logs))),
            Err(error) => out.push_str(&format!("log tail: not base64 ({error})\n")),
        }
    }
    Ok(out)
}

/// One POST with `X-Amz-Log-Type: Tail` over HTTP/1.1 (`Connection: close`,
/// so the body runs to the end of the stream).
fn post(address: SocketAddr, path: &str, body: &[u8]) -> Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15 * 60)))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         X-Amz-Log-Type: Tail\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Answer> {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .context("the response has no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).context("the response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("the response has no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
    };
    if header("transfer-encoding").is_some_and(|coding| coding != "identity") {
        bail!("the response is chunked, which this client does not read");
    }
    let mut body = raw[split + 4..].to_vec();
    if let Some(length) = header("content-length").and_then(|value| value.parse::<usize>().ok()) {
        if body.len() < length {
            bail!("the response ended after {} of {length} bytes", body.len());
        }
        body.truncate(length);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A function name as one path segment (an ARN has `:`; `$LATEST` has `$`).
fn percent_encode_segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_error_is_printed_with_the_response_and_the_log_tail() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-amz-function-error: Unhandled\r\n\
x-amz-executed-version: $LATEST\r\nx-amz-log-result: U1RBUlQKRU5ECg==\r\ncontent-length: 45\r\n\r\n\
{\"errorType\":\"UnknownSku\",\"errorMessage\":\"x\"}";
        let answer = parse_response(raw).unwrap();
        assert_eq!(answer.status, 200);
        let printed = render(&answer).unwrap();
        assert_eq!(
            printed,
            "StatusCode: 200\nExecutedVersion: $LATEST\nfunction error: Unhandled\nresponse:\n\
{\n  \"errorMessage\": \"x\",\n  \"errorType\": \"UnknownSku\"\n}\nlog tail:\nSTART\nEND\n"
        );
    }

    #[test]
    fn a_short_or_chunked_response_is_an_error() {
        let short = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}";
        let error = parse_response(short).unwrap_err().to_string();
        assert!(error.contains("after 2 of 10 bytes"), "{error}");
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let error = parse_response(chunked).unwrap_err().to_string();
        assert!(error.contains("chunked"), "{error}");
    }

    #[test]
    fn names_and_endpoints_are_checked_and_encoded() {
        assert_eq!(percent_encode_segment("ReserveFunction"), "ReserveFunction");
        assert_eq!(
            percent_encode_segment("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af%3A%24LATEST"
        );
        assert_eq!(
            socket_address("http://127.0.0.1:4000/").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 4000))
        );
        assert!(socket_address("https://example.com").is_err());
    }
}
