//! LocalStack, the second local AWS emulator, for the tests that check panka against an
//! implementation of S3, SQS, SNS, EventBridge and IAM other than moto's.
//!
//! [`localstack`] returns the endpoint of a LocalStack: the one named by
//! `PANKA_TEST_LOCALSTACK_ENDPOINT` when set, otherwise one this process starts on a free port,
//! on the host without Docker, from the venv `scripts/localstack-venv.sh` creates (LocalStack
//! 2026.3.0 needs Python 3.13). The server is shared by all tests of the process and stops when
//! the process exits, however it exits: it runs under a shell that stops it and removes its files
//! as soon as the pipe from this process closes.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{free_port, http, repo_root};

/// How long a freshly started LocalStack may take to say it is ready. It loads its plugins in a
/// few seconds on a 2-core machine; the very first start after the venv was made also compiles
/// its Python files.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Pause between readiness probes while LocalStack starts.
const STARTUP_POLL: Duration = Duration::from_millis(100);

/// Ports tried before giving up: another process may take the free port found between the
/// moment it is found and the moment LocalStack binds it.
const START_ATTEMPTS: usize = 3;

/// What LocalStack prints once its gateway serves requests.
const READY_MARKER: &str = "\nReady.";

/// What LocalStack's server logs when its port is taken. It does not exit then: it prints
/// [`READY_MARKER`] and serves nothing, so the log is checked for this too.
const PORT_TAKEN_MARKERS: [&str; 2] = ["CannotListenError", "Address already in use"];

/// A running LocalStack.
#[derive(Debug)]
pub struct LocalStack {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Kept open for the life of the process; closing it stops the server.
    _keepalive: Option<Mutex<(Child, ChildStdin)>>,
}

/// The LocalStack shared by this process's tests, started on first use.
///
/// # Panics
/// When LocalStack cannot be started (no Python 3.13, the venv cannot be created, or the server
/// does not say it is ready within [`STARTUP_TIMEOUT`]): the tests that need it fail, with the
/// reason, rather than pass without having run.
pub fn localstack() -> &'static LocalStack {
    static LOCALSTACK: OnceLock<LocalStack> = OnceLock::new();
    LOCALSTACK.get_or_init(|| match std::env::var("PANKA_TEST_LOCALSTACK_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => LocalStack {
            endpoint,
            _keepalive: None,
        },
        _ => start().unwrap_or_else(|e| panic!("starting LocalStack: {e}")),
    })
}

/// The LocalStack venv (created on first use by `scripts/localstack-venv.sh`).
fn venv() -> Result<PathBuf, String> {
    let script = repo_root().join("scripts/localstack-venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

fn start() -> Result<LocalStack, String> {
    let venv = venv()?;
    let mut failures = Vec::new();
    for _ in 0..START_ATTEMPTS {
        match start_on_free_port(&venv) {
            Ok(started) => return Ok(started),
            Err(Attempt::PortTaken(port)) => failures.push(format!("port {port} was taken")),
            Err(Attempt::Failed(reason)) => return Err(reason),
        }
    }
    Err(failures.join("; "))
}

/// Why one start did not give a running LocalStack.
enum Attempt {
    /// Another process bound the port first: worth another port.
    PortTaken(u16),
    /// Anything else: reported as is.
    Failed(String),
}

fn start_on_free_port(venv: &Path) -> Result<LocalStack, Attempt> {
    let port = free_port().map_err(|e| Attempt::Failed(format!("finding a free port: {e}")))?;
    // LocalStack's files (its state, certificate and log) go to a folder of this instance, so
    // that test processes running at once do not share them; the shell removes it at the end.
    let root = std::env::temp_dir().join(format!("panka-localstack-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| Attempt::Failed(format!("creating {}: {e}", root.display())))?;
    let log = root.join("localstack.log");
    // The shell starts LocalStack, then waits on its stdin; EOF (this process exiting) stops it
    // (SIGTERM makes it shut its services down; SIGKILL if that takes over 10 s) and removes its
    // folder.
    let script = format!(
        "\"{python}\" -m localstack.runtime.main >\"{log}\" 2>&1 & pid=$!\n\
         cat >/dev/null\n\
         kill $pid 2>/dev/null\n\
         i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done\n\
         kill -9 $pid 2>/dev/null\n\
         rm -rf \"{root}\"",
        python = venv.join("bin/python").display(),
        log = log.display(),
        root = root.display(),
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
        // Its files under `root`: LocalStack otherwise uses /var/lib/localstack whenever it
        // believes it runs in a container (a /.dockerenv file, as CI machines may have).
        .env("OVERRIDE_IN_DOCKER", "0")
        .env("FILESYSTEM_ROOT", &root)
        // No DNS server (it would take port 53), no download of its TLS certificate and no
        // usage events: the tests run offline.
        .env("DNS_ADDRESS", "0")
        .env("SKIP_SSL_CERT_DOWNLOAD", "1")
        .env("DISABLE_EVENTS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Attempt::Failed(format!("starting LocalStack: {e}")))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| Attempt::Failed("no stdin pipe to LocalStack's shell".into()))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let printed = std::fs::read_to_string(&log).unwrap_or_default();
        if PORT_TAKEN_MARKERS.iter().any(|m| printed.contains(m)) {
            // Closing stdin ends the shell, which stops this LocalStack.
            drop(stdin);
            let _ = child.wait();
            return Err(Attempt::PortTaken(port));
        }
        if printed.contains(READY_MARKER)
            && let Ok((200, _)) = http(&endpoint, "GET", "/_localstack/health", b"")
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Attempt::Failed(format!(
                "LocalStack exited with {status} before it was ready; it printed:\n{}",
                tail(&printed)
            )));
        }
        if Instant::now() > deadline {
            drop(stdin);
            let _ = child.wait();
            return Err(Attempt::Failed(format!(
                "LocalStack was not ready on {endpoint} within {STARTUP_TIMEOUT:?}; it printed:\n{}",
                tail(&printed)
            )));
        }
        std::thread::sleep(STARTUP_POLL);
    }
    Ok(LocalStack {
        endpoint,
        _keepalive: Some(Mutex::new((child, stdin))),
    })
}

/// The last lines of a log, for a failure message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl LocalStack {
    /// The Python of the LocalStack venv, which has boto3: tests use it as a second AWS client.
    ///
    /// # Panics
    /// When the venv cannot be created.
    pub fn python(&self) -> PathBuf {
        venv()
            .unwrap_or_else(|e| panic!("the LocalStack venv: {e}"))
            .join("bin/python")
    }

    /// The services LocalStack reports in its health endpoint, with their status (`available`,
    /// `running`, …).
    ///
    /// # Errors
    /// When the endpoint does not answer or its answer is not the expected JSON.
    pub fn services(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let (code, body) = http(&self.endpoint, "GET", "/_localstack/health", b"")?;
        if code != 200 {
            return Err(format!("/_localstack/health answered {code}"));
        }
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        doc["services"]
            .as_object()
            .cloned()
            .ok_or_else(|| format!("no services in {doc}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localstack_speaks_s3() {
        let ls = localstack();
        let services = ls.services().unwrap();
        for service in ["s3", "sqs", "sns", "events", "iam"] {
            assert!(
                services.contains_key(service),
                "LocalStack does not serve {service}: {services:?}"
            );
        }
        let bucket = format!("panka-test-support-{}", std::process::id());
        let (code, _) = http(&ls.endpoint, "PUT", &format!("/{bucket}"), b"").unwrap();
        assert_eq!(code, 200, "creating a bucket through LocalStack's S3 API");
        // Unsigned, LocalStack routes `GET /` to itself rather than to S3: list the bucket.
        let (code, body) =
            http(&ls.endpoint, "GET", &format!("/{bucket}?list-type=2"), b"").unwrap();
        let listing = String::from_utf8_lossy(&body);
        assert_eq!(code, 200, "{listing}");
        assert!(
            listing.contains(&format!("<Name>{bucket}</Name>")),
            "not the bucket's listing: {listing}"
        );
        let (code, _) = http(
            &ls.endpoint,
            "GET",
            &format!("/{bucket}-absent?list-type=2"),
            b"",
        )
        .unwrap();
        assert_eq!(code, 404, "a bucket never created must not be listed");
    }
}
