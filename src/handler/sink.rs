//! Where each event's metric line goes: the one write of the handler's that is neither IAM nor
//! the answer.

use std::sync::{Arc, Mutex, PoisonError};

/// Where each event's metric line goes: stdout, where Lambda hands it to CloudWatch Logs, or a
/// buffer that tests read.
#[derive(Debug, Clone, Default)]
pub enum MetricSink {
    #[default]
    Stdout,
    Buffer(Arc<Mutex<Vec<String>>>),
}

impl MetricSink {
    pub fn buffer() -> MetricSink {
        MetricSink::Buffer(Arc::default())
    }

    /// The lines written so far (none for stdout).
    pub fn lines(&self) -> Vec<String> {
        match self {
            MetricSink::Stdout => Vec::new(),
            MetricSink::Buffer(lines) => {
                lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
            }
        }
    }

    pub(super) fn write(&self, line: String) {
        match self {
            MetricSink::Stdout => {
                use std::io::Write;
                // One write of the whole line, so that no log line lands inside it; a closed
                // stdout loses the metrics, never the answer.
                let _ = std::io::stdout()
                    .lock()
                    .write_all(format!("{line}\n").as_bytes());
            }
            MetricSink::Buffer(lines) => lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line),
        }
    }
}

impl PartialEq for MetricSink {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MetricSink::Stdout, MetricSink::Stdout) => true,
            (MetricSink::Buffer(a), MetricSink::Buffer(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for MetricSink {}
