//! A local AWS emulator for integration tests.
//!
//! [`emulator`] returns the endpoint of a moto server: the one named by `PANKA_TEST_ENDPOINT`
//! when set (a LocalStack or moto someone already runs), otherwise one this process starts on a
//! free port of 127.0.0.1 from the venv `scripts/moto-venv.sh` creates. The server is shared by
//! all tests of the process and stops when the process exits, however it exits: it runs under a
//! shell that kills it as soon as the pipe from this process closes.
//!
//! [`localstack`] does the same for LocalStack, the second emulator (`PANKA_TEST_LOCALSTACK_ENDPOINT`
//! names a running one), for the tests that check panka against another implementation than moto's.
//!
//! Tests that work around a moto gap say so where they do; product code never knows which
//! emulator it talks to.

pub mod proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

mod localstack;
pub use localstack::{LocalStack, localstack};

/// How long a freshly started moto server may take to answer. Its first start imports every
/// service's models, which takes a few seconds on a 2-core machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Pause between readiness probes while moto starts.
const STARTUP_POLL: Duration = Duration::from_millis(100);

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Kept open for the life of the process; closing it stops the server.
    _keepalive: Option<Mutex<(Child, ChildStdin)>>,
}

/// The emulator shared by this process's tests, started on first use.
///
/// # Panics
/// When no emulator can be started (no python3, the venv cannot be created, or the server does
/// not answer within [`STARTUP_TIMEOUT`]): the tests that need it cannot run.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| match std::env::var("PANKA_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Emulator {
            endpoint,
            _keepalive: None,
        },
        _ => start().unwrap_or_else(|e| panic!("starting the moto emulator: {e}")),
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start() -> Result<Emulator, String> {
    let venv_script = repo_root().join("scripts/moto-venv.sh");
    let out = Command::new("bash")
        .arg(&venv_script)
        .output()
        .map_err(|e| format!("running {}: {e}", venv_script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            venv_script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let venv = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
    let server = venv.join("bin/moto_server");
    let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
    // The shell starts moto, then waits on its stdin; EOF (this process exiting) kills moto.
    let script = format!(
        "\"{}\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        server.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        // ECS services report tasks as running only when moto is told to (a known moto gap).
        .env(
            "MOTO_ECS_SERVICE_RUNNING",
            std::env::var("MOTO_ECS_SERVICE_RUNNING").unwrap_or_else(|_| "1".into()),
        )
        // moto keeps a requested ACM certificate PENDING_VALIDATION for this many seconds
        // (default 60, moto/settings.py ACM_VALIDATION_WAIT) and issues it then, whatever the
        // DNS says: a short wait keeps the domain tests' certificate waits short.
        .env(
            "MOTO_ACM_VALIDATION_WAIT",
            std::env::var("MOTO_ACM_VALIDATION_WAIT").unwrap_or_else(|_| "2".into()),
        )
        // Where moto writes the requests it records, for tests that check what was sent.
        .env("MOTO_RECORDER_FILEPATH", recording_path(port))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting moto_server: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe to moto's shell")?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok((200, _)) = http(&endpoint, "GET", "/moto-api/", b"") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto_server exited with {status} before answering"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "moto_server did not answer on {endpoint} within {STARTUP_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(STARTUP_POLL);
    }
    Ok(Emulator {
        endpoint,
        _keepalive: Some(Mutex::new((child, stdin))),
    })
}

/// A minimal HTTP/1.1 request to the emulator, for health checks and for tests that need no SDK:
/// returns the status code and the body.
///
/// # Errors
/// Connection or protocol errors, as text.
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|e| e.to_string())?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).map_err(|e| e.to_string())?;
    let body = match rest.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => rest[i + 4..].to_vec(),
        None => Vec::new(),
    };
    Ok((status, body))
}

/// The Python of the emulator's venv, which has boto3: tests use it as a second AWS client.
///
/// # Panics
/// When the venv cannot be created.
pub fn python() -> PathBuf {
    let venv_script = repo_root().join("scripts/moto-venv.sh");
    let out = Command::new("bash")
        .arg(&venv_script)
        .output()
        .expect("running scripts/moto-venv.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string()).join("bin/python")
}

fn recording_path(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("panka-moto-recording-{port}.jsonl"))
}

impl Emulator {
    /// Starts moto's request recorder, from an empty recording: for checking what a client sent
    /// where moto does not keep a setting to read back.
    ///
    /// # Errors
    /// When the emulator does not accept the call.
    pub fn start_recording(&self) -> Result<(), String> {
        for path in [
            "/moto-api/recorder/reset-recording",
            "/moto-api/recorder/start-recording",
        ] {
            match http(&self.endpoint, "POST", path, b"")? {
                (200, _) => {}
                (code, body) => {
                    return Err(format!(
                        "{path} answered {code}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The requests recorded since [`Emulator::start_recording`], oldest first: each with
    /// `method`, `url`, `headers` and `body` (as text).
    ///
    /// # Errors
    /// When the recording cannot be downloaded or parsed.
    pub fn recorded(&self) -> Result<Vec<serde_json::Value>, String> {
        let (code, body) = http(
            &self.endpoint,
            "GET",
            "/moto-api/recorder/download-recording",
            b"",
        )?;
        if code != 200 {
            return Err(format!("download-recording answered {code}"));
        }
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut entry: serde_json::Value =
                    serde_json::from_str(l).map_err(|e| e.to_string())?;
                if entry["body_encoded"] == true
                    && let Some(b) = entry["body"].as_str()
                {
                    use base64::Engine as _;
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|e| e.to_string())?;
                    entry["body"] = String::from_utf8_lossy(&raw).into_owned().into();
                }
                Ok(entry)
            })
            .collect()
    }

    /// Forgets every resource the emulator holds (moto's reset API).
    ///
    /// # Errors
    /// When the emulator does not accept the reset.
    pub fn reset(&self) -> Result<(), String> {
        match http(&self.endpoint, "POST", "/moto-api/reset", b"")? {
            (200, _) => Ok(()),
            (code, body) => Err(format!(
                "reset answered {code}: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_speaks_s3() {
        let emu = emulator();
        let bucket = format!("panka-test-support-{}", std::process::id());
        let (code, _) = http(&emu.endpoint, "PUT", &format!("/{bucket}"), b"").unwrap();
        assert_eq!(code, 200, "creating a bucket through the emulator's S3 API");
        let (code, body) = http(&emu.endpoint, "GET", "/", b"").unwrap();
        assert_eq!(code, 200);
        let listing = String::from_utf8_lossy(&body);
        assert!(
            listing.contains(&bucket),
            "bucket missing from ListBuckets: {listing}"
        );
    }

    /// A signed-looking query call to SNS through `endpoint` (moto does not check signatures).
    fn sns_call(endpoint: &str, action: &str) -> Result<(u16, Vec<u8>), String> {
        let host = endpoint.trim_start_matches("http://");
        let body = format!("Action={action}&Version=2010-03-31");
        let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        if raw.is_empty() {
            return Err("connection closed without a response".into());
        }
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let body = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => raw[i + 4..].to_vec(),
            None => Vec::new(),
        };
        Ok((status, body))
    }

    #[test]
    fn proxy_faults_speak_the_protocol_and_are_logged() {
        use proxy::{Fate, FaultProxy, Faults};
        let emu = emulator();
        let proxy = FaultProxy::start(
            &emu.endpoint,
            Faults {
                throttle: 1.0,
                ..Faults::none()
            },
        );
        let (code, body) = sns_call(&proxy.endpoint, "ListTopics").unwrap();
        assert_eq!(code, 400);
        assert!(
            String::from_utf8_lossy(&body).contains("<Code>Throttling</Code>"),
            "{}",
            String::from_utf8_lossy(&body)
        );

        proxy.set_faults(Faults {
            lose_response: 1.0,
            ..Faults::none()
        });
        let lost = sns_call(&proxy.endpoint, "CreateTopic");
        assert!(
            lost.is_err(),
            "the response should have been dropped: {lost:?}"
        );

        proxy.set_faults(Faults::none());
        let (code, body) = sns_call(&proxy.endpoint, "ListTopics").unwrap();
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));

        let calls = proxy.calls();
        let fates: Vec<(&str, &str, Fate)> = calls
            .iter()
            .map(|c| (c.service.as_str(), c.operation.as_str(), c.fate))
            .collect();
        assert_eq!(
            fates,
            vec![
                ("sns", "ListTopics", Fate::Throttled),
                ("sns", "CreateTopic", Fate::ResponseLost),
                ("sns", "ListTopics", Fate::Forwarded),
            ]
        );
    }
}
