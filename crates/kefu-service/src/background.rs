//! Work that must yield the CPU to chat: threads at background priority (a higher nice value).
//!
//! On a small machine under a burst of chat, storing and delivering messages comes first; the search
//! index and the reply suggestions follow a little later. A Linux thread inherits its creator's nice
//! value, so everything a lowered thread starts (tantivy's indexing and merge threads) is lowered
//! too. Only dedicated threads are lowered: a lowered blocking-pool thread would slow whatever it
//! ran next.

/// How much lower than the server's other threads background work runs (a nice value, 0–19).
const NICENESS: i32 = 10;

/// Lowers the calling thread's priority to [`NICENESS`] (logged, not fatal, if refused).
fn lower_this_thread(what: &str) {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), NICENESS) {
        tracing::warn!(error = %e, what, "could not lower a background thread's priority");
    }
}

/// Runs `f` on a new thread of its own at background priority and returns its result. For rare
/// calls (opening and committing the search index: at most a few a second).
pub(crate) async fn at_background_priority<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let what = name.to_owned();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_this_thread(&what);
            let _ = tx.send(f());
        })
        .map_err(|e| e.to_string())?;
    rx.await.map_err(|e| e.to_string())
}

type Task = Box<dyn FnOnce() + Send>;

/// One long-lived thread at background priority that runs closures in turn. For frequent calls
/// (a suggestion ranking per shopper message). The thread ends when this is dropped.
pub(crate) struct BackgroundThread {
    tasks: std::sync::mpsc::Sender<Task>,
}

impl BackgroundThread {
    pub(crate) fn start(name: &str) -> std::io::Result<Self> {
        let (tasks, rx) = std::sync::mpsc::channel::<Task>();
        let what = name.to_owned();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lower_this_thread(&what);
                while let Ok(task) = rx.recv() {
                    task();
                }
            })?;
        Ok(Self { tasks })
    }

    /// Runs `f` on the thread after what is queued before it, and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tasks
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| "the background thread has stopped".to_owned())?;
        rx.await.map_err(|e| e.to_string())
    }
}
