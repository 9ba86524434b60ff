//! Supervision of long-running background tasks (the X-Cart import's scheduler, the Acumatica
//! token renewal, the job queue's sweeps): a task that panics is logged with its name and the
//! panic's message, and started again after a pause that doubles from 100 ms to 10 s (back to
//! 100 ms once a run lasted a minute). A task that returns has ended for good.
//!
//! Each run gets a fresh clone of the task's `state`, so the task body stays an ordinary
//! `async move` block: `supervise::spawn("name", state, |state| async move { ... })`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Spawns `task(state.clone())` on the runtime and restarts it (with a new clone) whenever it
/// panics.
pub fn spawn<S, F, Fut>(name: &'static str, state: S, task: F) -> tokio::task::JoinHandle<()>
where
    S: Clone + Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(run(name, state, task))
}

/// Runs `task` until it returns, restarting it after each panic.
async fn run<S, F, Fut>(name: &'static str, state: S, task: F)
where
    F: Fn(S) -> Fut,
    S: Clone,
    Fut: Future<Output = ()>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        let began = tokio::time::Instant::now();
        match AssertUnwindSafe(task(state.clone())).catch_unwind().await {
            Ok(()) => return,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(task = name, panic = %what, ?pause, "a background task panicked; restarting it");
            }
        }
        if began.elapsed() > Duration::from_secs(60) {
            pause = FIRST_PAUSE;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The text of a panic's payload (`panic!("…")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_until_it_returns() {
        let runs = Arc::new(AtomicU32::new(0));
        let handle = spawn("test", runs.clone(), |runs| async move {
            if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                panic!("boom");
            }
        });
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the task ends once a run returns")
            .expect("the supervisor itself never panics");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn panic_messages() {
        let p = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "at 3");
        let p = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "plain");
    }
}
