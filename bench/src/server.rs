//! Starting `keygate serve` on a free loopback port and provisioning it
//! through the `keygate` CLI.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Client;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::flow::{random_hex, Result};

pub(crate) struct ManagedServer {
    child: Option<Child>,
    pub pid: u32,
    pub public_url: String,
    pub database: String,
    bin: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    keep: bool,
}

/// Finds the keygate binary: as given, else relative to the workspace root.
pub(crate) fn locate_binary(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_relative() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let alt = root.join(path);
        if alt.is_file() {
            return Ok(alt);
        }
    }
    Err(format!(
        "server binary {} not found; build it with `cargo build --release -p keygate` or pass --server PATH",
        path.display()
    ))
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("finding a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl ManagedServer {
    pub(crate) async fn start(
        bin: &Path,
        database_url: Option<&str>,
        code_ttl: u64,
        token_rate_limit: &str,
        keep: bool,
    ) -> Result<Self> {
        let bin = locate_binary(bin)?;
        let bin = bin.canonicalize().unwrap_or(bin);
        let dir = std::env::temp_dir().join(format!(
            "keygate-bench-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let port = free_port()?;
        let public_url = format!("http://127.0.0.1:{port}");
        let (db_url, database) = match database_url {
            Some(u) => (
                u.to_string(),
                if u.starts_with("postgres") {
                    "postgres"
                } else {
                    "other"
                }
                .to_string(),
            ),
            None => (
                format!("sqlite://{}", dir.join("keygate.db").display()),
                "sqlite".to_string(),
            ),
        };
        let env = vec![
            ("KEYGATE_LISTEN".to_string(), format!("127.0.0.1:{port}")),
            ("KEYGATE_PUBLIC_URL".to_string(), public_url.clone()),
            ("KEYGATE_DATABASE_URL".to_string(), db_url),
            ("KEYGATE_MASTER_KEY".to_string(), random_hex(32)),
            (
                "KEYGATE_CODE_TTL".to_string(),
                code_ttl.min(600).to_string(),
            ),
            // W1 prepares thousands of codes from one session and client
            // before its timed phase; the cap on outstanding codes (which
            // keeps a person's unredeemed codes few) would refuse them.
            (
                "KEYGATE_MAX_OUTSTANDING_CODES".to_string(),
                "100000000".to_string(),
            ),
            // Each workload runs one client far past the default per-client
            // limit; `--token-rate-limit` sets it (a rate never reached
            // measures what the limiter costs).
            (
                "KEYGATE_TOKEN_RATE_LIMIT".to_string(),
                token_rate_limit.to_string(),
            ),
        ];
        let log = dir.join("server.log");
        let out =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let pid = child.id().ok_or("server exited at once")?;
        Ok(ManagedServer {
            child: Some(child),
            pid,
            public_url,
            database,
            bin,
            dir,
            log,
            env,
            keep,
        })
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls the root discovery document until 200 (30 s at most).
    pub(crate) async fn wait_ready(&mut self, http: &Client) -> Result<()> {
        let url = format!("{}/.well-known/openid-configuration", self.public_url);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "server exited ({status}) before becoming ready:\n{}",
                        self.log_tail()
                    ));
                }
            }
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "server not ready after 30 s ({url}):\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `keygate ARGS` against the same database; stdout is one JSON object.
    pub(crate) async fn cli(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<serde_json::Value> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("running keygate {}: {e}", args.join(" ")))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().ok_or("no stdin")?;
            pipe.write_all(input.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .map_err(|_| format!("keygate {} timed out", args.join(" ")))?
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "keygate {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                stdout.trim()
            ));
        }
        let text = stdout.trim();
        if text.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(text).map_err(|e| {
            format!(
                "keygate {}: stdout is not JSON ({e}): {text}",
                args.join(" ")
            )
        })
    }

    pub(crate) async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        if self.keep {
            eprintln!("kept {} (database and server.log)", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
