//! moto's IAM server, started as the tests start it: `ThreadedMotoServer` from the project's
//! `.venv` on a free port of 127.0.0.1, told its port on stdout. The server waits on its stdin:
//! when the process that started it ends, the pipe closes and the server exits, so no server
//! outlives its user. Shared by the integration tests and `examples/local-answer.rs`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

pub struct Moto {
    endpoint: String,
    // Held open for the life of the process (see above).
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

const MOTO_BOOT: &str = r#"
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"#;

impl Moto {
    /// Starts moto from `root`'s `.venv`, its log in `log`, with `env` added to its environment
    /// (such as `MOTO_ACCOUNT_ID`). AWS managed policies are not loaded (they slow the start).
    pub fn start(root: &Path, log: &Path, env: &[(&str, &str)]) -> Result<Moto, String> {
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            return Err(format!(
                "{} is missing: run scripts/install-test-tools once to install moto into .venv",
                python.display()
            ));
        }
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot write moto's log {}: {e}", log.display()))?;
        let mut child = Command::new(&python)
            .args(["-c", MOTO_BOOT])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("moto's stdin and stdout were not piped".to_owned());
        };
        let mut line = String::new();
        // A failed start closes stdout without a port: the read gives an empty line.
        let _ = BufReader::new(stdout).read_line(&mut line);
        let port: u16 = line.trim().parse().map_err(|_| {
            format!(
                "moto did not start (is .venv complete? run scripts/install-test-tools): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })?;
        Ok(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}
