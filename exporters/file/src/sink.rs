//! The open file behind one `file` exporter ID, shared by its traces, metrics and logs instances.
//!
//! The service creates one exporter instance per (ID, signal), but all of them must write into the
//! same file: opening it three times would truncate it three times and interleave partial writes.
//! So the instances share a [`FileSink`]: the first `start` opens the file and spawns the single
//! writer task, the last `shutdown` closes the request channel, which makes the task flush and
//! exit. Every write goes through that one task, so whole messages never interleave.

use crate::config::FileExporterConfig;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::fs::{DirBuilder, File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// Room for a typical batch before the buffer writes through to the file.
const BUFFER_CAPACITY: usize = 256 * 1024;

/// Writes waiting for the writer task. Senders wait when it is full, so a slow disk slows the
/// pipeline down instead of growing memory.
const PENDING_WRITES: usize = 64;

/// Why the file could not be opened, written or closed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot create directory {path}: {source}")]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot flush {path} on close: {source}")]
    Close {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the file exporter for {0} is not running")]
    NotRunning(PathBuf),
    #[error("the writer of {0} did not finish before the shutdown deadline")]
    CloseTimedOut(PathBuf),
}

/// Bytes to append, and where to report whether they were written.
struct WriteRequest {
    bytes: Vec<u8>,
    done: oneshot::Sender<io::Result<()>>,
}

struct RunningWriter {
    requests: mpsc::Sender<WriteRequest>,
    task: JoinHandle<io::Result<()>>,
}

#[derive(Default)]
struct SinkState {
    /// Started instances that have not shut down yet.
    users: usize,
    writer: Option<RunningWriter>,
}

/// One output file and its writer task.
pub struct FileSink {
    config: FileExporterConfig,
    state: Mutex<SinkState>,
}

impl FileSink {
    pub fn new(config: FileExporterConfig) -> Self {
        FileSink {
            config,
            state: Mutex::new(SinkState::default()),
        }
    }

    pub fn config(&self) -> &FileExporterConfig {
        &self.config
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(&self.config.path)
    }

    /// Opens the file on the first start; later starts only count the new user.
    pub async fn start(&self) -> Result<(), SinkError> {
        let mut state = self.state.lock().await;
        if state.writer.is_none() {
            let file = self.open().await?;
            let (requests, receiver) = mpsc::channel(PENDING_WRITES);
            let task = tokio::spawn(write_loop(
                BufWriter::with_capacity(BUFFER_CAPACITY, file),
                receiver,
                self.config.effective_flush_interval(),
            ));
            state.writer = Some(RunningWriter { requests, task });
        }
        state.users += 1;
        Ok(())
    }

    async fn open(&self) -> Result<File, SinkError> {
        let path = self.path();
        if self.config.create_directory
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            create_directory(parent, &self.config).await?;
        }
        let mut options = OpenOptions::new();
        options.create(true);
        if self.config.append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        options
            .open(&path)
            .await
            .map_err(|source| SinkError::Open { path, source })
    }

    /// Appends `bytes` as one unit, after every write accepted before it.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<(), SinkError> {
        let requests = match &self.state.lock().await.writer {
            Some(writer) => writer.requests.clone(),
            None => return Err(SinkError::NotRunning(self.path())),
        };
        let (done, result) = oneshot::channel();
        requests
            .send(WriteRequest { bytes, done })
            .await
            .map_err(|_| SinkError::NotRunning(self.path()))?;
        match result.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SinkError::Write {
                path: self.path(),
                source,
            }),
            Err(_) => Err(SinkError::NotRunning(self.path())),
        }
    }

    /// Drops one user; the last one closes the file after flushing everything written so far.
    pub async fn shutdown(&self, deadline: Instant) -> Result<(), SinkError> {
        let writer = {
            let mut state = self.state.lock().await;
            state.users = state.users.saturating_sub(1);
            if state.users > 0 {
                return Ok(());
            }
            state.writer.take()
        };
        let Some(RunningWriter { requests, task }) = writer else {
            return Ok(());
        };
        // Writes already handed out a sender still complete; the task ends once all are gone.
        drop(requests);
        let abort = task.abort_handle();
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(source))) => Err(SinkError::Close {
                path: self.path(),
                source,
            }),
            Ok(Err(join_error)) => Err(SinkError::Close {
                path: self.path(),
                source: io::Error::other(join_error.to_string()),
            }),
            Err(_) => {
                abort.abort();
                Err(SinkError::CloseTimedOut(self.path()))
            }
        }
    }
}

async fn create_directory(path: &Path, config: &FileExporterConfig) -> Result<(), SinkError> {
    let fail = |source| SinkError::CreateDirectory {
        path: path.to_path_buf(),
        source,
    };
    let mode = config
        .directory_mode()
        .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())))?;
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .await
        .map_err(fail)
}

/// Appends `bytes`. When they do not fit the buffer they go to the file now, and the write is
/// flushed so that a disk error reaches this write's sender: tokio's `File` otherwise reports a
/// failed background write only on the next operation.
async fn write_through(file: &mut BufWriter<File>, bytes: &[u8]) -> io::Result<()> {
    let spills = file.buffer().len() + bytes.len() > BUFFER_CAPACITY;
    file.write_all(bytes).await?;
    if spills {
        file.flush().await?;
    }
    Ok(())
}

/// The only code that touches the file: appends each request in arrival order, flushes the
/// buffer every `flush_interval`, and flushes once more when the last sender is gone.
async fn write_loop(
    mut file: BufWriter<File>,
    mut requests: mpsc::Receiver<WriteRequest>,
    flush_interval: Duration,
) -> io::Result<()> {
    let mut ticker = tokio::time::interval_at(Instant::now() + flush_interval, flush_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(WriteRequest { bytes, done }) => {
                    let result = write_through(&mut file, &bytes).await;
                    // The sender may have stopped waiting; the bytes are written either way.
                    let _ = done.send(result);
                }
                None => break,
            },
            _ = ticker.tick() => {
                if let Err(error) = file.flush().await {
                    tracing::error!(%error, "file exporter: periodic flush failed");
                }
            }
        }
    }
    // No fsync: the path may be a pipe or terminal (`/dev/stdout`), where it is not supported.
    file.flush().await
}
