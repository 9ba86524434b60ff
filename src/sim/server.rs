//! The HTTP server both simulators run on: bound, served in a background task, stopped on
//! shutdown or when dropped.

use std::net::SocketAddr;

use axum::Router;

pub struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Serves `app` on `listener` until [`Server::shutdown`] or drop; `name` is for the log.
    pub fn spawn(
        listener: tokio::net::TcpListener,
        app: Router,
        name: &'static str,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "the {name} stopped");
            }
        });
        Ok(Server {
            addr,
            task,
            stop: Some(stop),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
