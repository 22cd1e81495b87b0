//! The batched log writer: callers append whole lines to one shared buffer; one writer thread
//! takes the buffer every ~2 ms and writes it out in one call. A line costs a short lock and a
//! copy on the caller's thread, and no system call, channel message or thread wake-up of its own
//! (the writer is woken once per batch, only when it sleeps on an empty buffer).
//!
//! Nothing is dropped: when [`MAX_PENDING`] bytes wait, callers block until the writer has taken
//! them. Dropping the [`LogWriterGuard`] writes out everything appended before.

use std::io::Write;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How long the writer gathers lines after the first one of a batch.
const GATHER: Duration = Duration::from_millis(2);

/// Bytes waiting past which callers wait for the writer.
pub const MAX_PENDING: usize = 4 << 20;

/// A batch buffer kept between batches up to this capacity (larger ones are freed).
const KEEP_CAPACITY: usize = 256 << 10;

struct State {
    buf: Vec<u8>,
    /// The writer sleeps on `wake` and must be notified of the next line.
    writer_idle: bool,
    /// Callers waiting on `space`.
    waiting: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    space: Condvar,
}

/// A handle that appends to the shared buffer; cheap to clone.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread; dropping it writes out every buffered line and stops the thread.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the writer thread over `sink` (stderr in the server).
    pub fn spawn(sink: Box<dyn Write + Send>) -> std::io::Result<(LogWriter, LogWriterGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: Vec::with_capacity(64 << 10),
                writer_idle: false,
                waiting: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            space: Condvar::new(),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || run(&for_thread, sink))?;
        Ok((
            LogWriter {
                shared: shared.clone(),
            },
            LogWriterGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Appends `bytes` (whole lines) to the batch, waiting while the batch is full.
    pub fn append(&self, bytes: &[u8]) {
        let mut st = self.shared.state.lock();
        while st.buf.len() >= MAX_PENDING && !st.closed {
            st.waiting += 1;
            self.shared.space.wait(&mut st);
            st.waiting -= 1;
        }
        if st.closed {
            // After shutdown (a line from a thread that outlived the guard): write it directly.
            drop(st);
            let _ = std::io::stderr().write_all(bytes);
            return;
        }
        st.buf.extend_from_slice(bytes);
        if st.writer_idle {
            st.writer_idle = false;
            self.shared.wake.notify_one();
        }
    }
}

fn run(shared: &Shared, mut sink: Box<dyn Write + Send>) {
    let mut batch = Vec::with_capacity(64 << 10);
    loop {
        let mut st = shared.state.lock();
        while st.buf.is_empty() && !st.closed {
            st.writer_idle = true;
            shared.wake.wait(&mut st);
        }
        st.writer_idle = false;
        if st.buf.is_empty() && st.closed {
            break;
        }
        // Let the batch gather, unless it is already large or we are shutting down.
        if !st.closed && st.buf.len() < MAX_PENDING / 2 {
            drop(st);
            std::thread::sleep(GATHER);
            st = shared.state.lock();
        }
        std::mem::swap(&mut st.buf, &mut batch);
        if st.waiting > 0 {
            shared.space.notify_all();
        }
        drop(st);
        // A failed write (stderr closed) loses the batch, as a failed write to stderr would.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        if batch.capacity() > KEEP_CAPACITY {
            batch = Vec::with_capacity(64 << 10);
        }
    }
    let _ = sink.flush();
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        {
            let mut st = self.shared.state.lock();
            st.closed = true;
            self.shared.wake.notify_one();
            self.shared.space.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// For `tracing_subscriber::fmt`: it formats each event into its own buffer and writes it with
/// one `write_all`, so one event is one [`LogWriter::append`].
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that collects what it is given, and counts the writes.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Collect {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut g = self.0.lock();
            g.0.extend_from_slice(buf);
            g.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_and_in_batches() {
        let sink = Collect::default();
        let (w, guard) = LogWriter::spawn(Box::new(sink.clone())).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        w.append(format!("{t} {i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..5000).collect::<Vec<_>>(), "thread {t} in order");
        }
        assert!(writes < 20_000, "{writes} writes: not batched");
    }

    /// A writer that cannot keep up makes callers wait instead of dropping lines.
    #[test]
    fn a_full_buffer_makes_callers_wait_and_drops_nothing() {
        struct Slow(Collect);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Collect::default();
        let (w, guard) = LogWriter::spawn(Box::new(Slow(sink.clone()))).unwrap();
        let line = vec![b'x'; 64 << 10];
        for _ in 0..200 {
            // 12.5 MiB in all: three times the limit.
            w.append(&line);
            assert!(w.shared.state.lock().buf.len() <= MAX_PENDING + line.len());
        }
        drop(guard);
        assert_eq!(sink.0.lock().0.len(), 200 * line.len());
    }
}
