//! The accept loop (issue 20, item 5): HTTP/1.1 connections with limits a stalled or greedy
//! client cannot get around.
//!
//! `axum::serve` has no timeout on unfinished request headers and no cap per client: 300
//! half-open connections from one client once used up the process's descriptors and took the desk
//! down. Here each connection
//! - must send a complete request head within [`Limits::header_read_timeout`] — also between two
//!   requests on a kept-alive connection, so idle connections close by themselves;
//! - counts against its address's [`Limits::max_connections_per_address`] for as long as it is
//!   open, WebSockets included (the upgraded socket keeps its [`ConnectionSlot`]); a connection
//!   over the cap is closed at once. Trusted proxies are exempt: every client behind them shares
//!   their address, and they are counted per real client by the rate limits instead.
//!
//! Only HTTP/1.1 is spoken: browsers use HTTP/2 only over TLS, which a reverse proxy in front of
//! kefu terminates, and HTTP/2's connection preface would otherwise be read with no timeout.

use crate::Limits;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Open connections per client address, shared by the accept loop and every open connection.
#[derive(Default)]
struct OpenConnections {
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection's place in its address's count, given back when the last holder drops it.
/// Request handlers find it in the request's extensions; the WebSocket routes keep it for as long
/// as the socket lives, since hyper's own connection ends at the upgrade.
pub struct ConnectionSlot {
    open: Arc<OpenConnections>,
    address: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = self
            .open
            .by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.address);
            }
        }
    }
}

impl OpenConnections {
    /// A slot for a new connection from `address`, or `None` when it already has `cap` open.
    fn take(self: &Arc<Self>, address: IpAddr, cap: usize) -> Option<Arc<ConnectionSlot>> {
        let mut map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(address).or_insert(0);
        if cap > 0 && *n >= cap {
            return None;
        }
        *n += 1;
        Some(Arc::new(ConnectionSlot {
            open: self.clone(),
            address,
        }))
    }
}

/// Serves `app` (the [`crate::router`]) on `listener` with `limits`' connection limits until
/// `shutdown` completes, then lets open requests finish (WebSockets are the caller's to end).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = limits.clone();
    let open = Arc::new(OpenConnections::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    let mut refused_logged_at: Option<std::time::Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving the
                    // others, and give the system a moment when it is out of something.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Finished connection tasks are reaped as we go, so the set stays the size of the open ones.
        while connections.try_join_next().is_some() {}
        let exempt = limits
            .trusted_proxies
            .iter()
            .any(|cidr| cidr.contains(peer.ip()));
        let cap = if exempt {
            0
        } else {
            limits.max_connections_per_address
        };
        let Some(slot) = open.take(peer.ip(), cap) else {
            // Logged at most once a minute: a flood must not flood the log too.
            if refused_logged_at.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                refused_logged_at = Some(std::time::Instant::now());
                tracing::warn!(address = %peer.ip(), cap, "connection refused: too many open from this address");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            peer,
            slot,
            app.clone(),
            limits.header_read_timeout,
            stop_rx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: Arc<ConnectionSlot>,
    app: Router,
    header_read_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(slot.clone());
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stopping = tokio::select! {
        _ = connection.as_mut() => false,
        _ = stop.wait_for(|stop| *stop) => true,
    };
    if stopping {
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}
