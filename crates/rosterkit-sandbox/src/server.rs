//! The accept loop: one HTTP/1 connection task per client, each with a kill switch so a fault
//! can drop the TCP connection without sending a response.
//!
//! Bounded against hostile local clients: at most [`MAX_CONNECTIONS`] connections at once; a
//! new connection must finish its TLS handshake and the headers of its first request within
//! [`FIRST_REQUEST_TIMEOUT`]; and at most [`MAX_AWAITING`] connections may be waiting for their
//! first request, the oldest being closed to make room, so a flood of half-open connections
//! cannot lock out a client that sends its request at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::framework::{ConnInfo, ConnKill, RawTarget};
use crate::sync::lock;

/// How long a graceful shutdown waits for in-flight requests before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections served at once; further clients wait in the listen backlog until one ends.
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// How long a new connection may take to complete its TLS handshake (if any) and send the
/// headers of its first request.
pub(crate) const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections that may be waiting for their first request at once; beyond, the oldest is
/// closed.
pub(crate) const MAX_AWAITING: usize = 128;

/// The connections still waiting for their first request, oldest first, each with the switch
/// that closes it.
#[derive(Default)]
struct Awaiting {
    next_id: u64,
    queue: VecDeque<(u64, Arc<Notify>)>,
}

/// A connection's place in [`Awaiting`]; leaving it (first request, or the connection ends)
/// removes it.
struct AwaitingTicket {
    awaiting: Arc<Mutex<Awaiting>>,
    id: u64,
    evicted: Arc<Notify>,
}

impl AwaitingTicket {
    /// Registers a new connection, evicting the oldest waiting one beyond [`MAX_AWAITING`].
    fn issue(awaiting: &Arc<Mutex<Awaiting>>) -> AwaitingTicket {
        let evicted = Arc::new(Notify::new());
        let mut state = lock(awaiting);
        let id = state.next_id;
        state.next_id += 1;
        state.queue.push_back((id, Arc::clone(&evicted)));
        while state.queue.len() > MAX_AWAITING {
            if let Some((_, oldest)) = state.queue.pop_front() {
                oldest.notify_one();
            }
        }
        AwaitingTicket {
            awaiting: Arc::clone(awaiting),
            id,
            evicted,
        }
    }

    fn leave(&self) {
        lock(&self.awaiting).queue.retain(|(id, _)| *id != self.id);
    }
}

impl Drop for AwaitingTicket {
    fn drop(&mut self) {
        self.leave();
    }
}

/// How connections are wrapped: plain TCP, or TLS with the sandbox's certificate.
#[derive(Clone)]
pub(crate) enum Transport {
    Plain,
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

/// Accepts connections until `shutdown` changes (or its sender is dropped), then shuts the
/// open connections down gracefully.
pub(crate) async fn run(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let awaiting = Arc::new(Mutex::new(Awaiting::default()));
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let ticket = AwaitingTicket::issue(&awaiting);
                    connections.spawn(accept_connection(
                        stream,
                        transport.clone(),
                        app.clone(),
                        shutdown.clone(),
                        (slot, ticket),
                    ));
                }
                Err(error) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::debug!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
        // Reap finished connections so a long run keeps a flat task set.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

/// Wraps the stream (TLS handshake within the first-request deadline) and serves it.
async fn accept_connection(
    stream: TcpStream,
    transport: Transport,
    app: Router,
    shutdown: watch::Receiver<bool>,
    (_slot, ticket): (OwnedSemaphorePermit, AwaitingTicket),
) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + FIRST_REQUEST_TIMEOUT;
    match transport {
        Transport::Plain => {
            let info = ConnInfo { tls: false };
            serve_connection(stream, info, (deadline, ticket), app, shutdown).await;
        }
        #[cfg(feature = "tls")]
        Transport::Tls(acceptor) => {
            let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
            let evicted = Arc::clone(&ticket.evicted);
            tokio::select! {
                result = handshake => match result {
                    Ok(Ok(tls)) => {
                        let info = ConnInfo { tls: true };
                        serve_connection(tls, info, (deadline, ticket), app, shutdown).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "sandbox TLS handshake failed"),
                    Err(_) => tracing::debug!("sandbox TLS handshake timed out"),
                },
                () = evicted.notified() => tracing::debug!("sandbox TLS handshake evicted"),
            }
        }
    }
}

async fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    (first_request_deadline, ticket): (Instant, AwaitingTicket),
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let request_kill = ConnKill(Arc::clone(&kill));
    let first_request = Arc::new(Notify::new());
    let first_request_seen = Arc::clone(&first_request);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        first_request_seen.notify_one();
        let target = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        request.extensions_mut().insert(RawTarget(target));
        crate::app::alias_root_routes(&mut request);
        request.extensions_mut().insert(request_kill.clone());
        request.extensions_mut().insert(info);
        let mut app = app.clone();
        tower_service::Service::call(&mut app, request)
    });
    // No header-read timeout from hyper: it also applies between keep-alive requests, and its
    // default (30 s) closes an idle connection just as a client that honoured
    // `Retry-After: 30` reuses it, which turns a clean retry into an ambiguous transport error.
    // Only the first request has a deadline (below); idle connections end with the client or
    // at shutdown.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut draining = false;
    let mut awaiting_first_request = true;
    loop {
        tokio::select! {
            // In this order: a request that arrived wins over an eviction or the deadline.
            biased;
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "sandbox connection ended with an error");
                }
                break;
            }
            () = kill.notified() => break, // Dropping `connection` closes the socket.
            () = first_request.notified(), if awaiting_first_request => {
                awaiting_first_request = false;
                ticket.leave();
            }
            () = ticket.evicted.notified(), if awaiting_first_request => {
                tracing::debug!("sandbox connection closed to make room for newer ones");
                break;
            }
            () = tokio::time::sleep_until(first_request_deadline), if awaiting_first_request => {
                tracing::debug!("sandbox connection sent no request headers in time");
                break;
            }
            _ = shutdown.changed(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
