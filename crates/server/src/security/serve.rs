//! Serves the app (REST + gRPC) on every listener, http and https side by side, with limits
//! against slow and idle clients: the TLS handshake and an HTTP/1 request's headers must arrive
//! within the idle timeout (an idle keep-alive connection is closed after it), and HTTP/2
//! connections are pinged and closed when the peer stops answering.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::listeners::Scheme;

/// Concurrent HTTP/2 streams per connection (gRPC calls and REST requests over h2).
const MAX_CONCURRENT_STREAMS: u32 = 256;

/// One bound listener.
pub struct BoundListener {
    pub scheme: Scheme,
    pub listener: TcpListener,
}

/// How connections are served.
#[derive(Clone)]
pub struct ServeOptions {
    pub tls_opt: Option<Arc<rustls::ServerConfig>>,
    pub idle_timeout: Duration,
}

/// Accepts connections on every listener until `stop` fires, then lets open connections finish
/// their requests (HTTP/1 `Connection: close`, HTTP/2 GOAWAY) and returns when they are done.
pub async fn serve_all(
    listeners: Vec<BoundListener>,
    app: Router,
    options: ServeOptions,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    let mut accept_loops = Vec::new();
    for bound in listeners {
        let tls_opt = match bound.scheme {
            Scheme::Http => None,
            Scheme::Https => options.tls_opt.clone(),
        };
        accept_loops.push(tokio::spawn(accept_loop(
            bound.listener,
            tls_opt,
            app.clone(),
            options.idle_timeout,
            connections.clone(),
            stop.clone(),
        )));
    }
    for accept_loop in accept_loops {
        let _ = accept_loop.await;
    }
    connections.close();
    connections.wait().await;
}

async fn accept_loop(
    listener: TcpListener,
    tls_opt: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    idle_timeout: Duration,
    connections: TaskTracker,
    stop: CancellationToken,
) {
    let acceptor_opt = tls_opt.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "failed to accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor_opt = acceptor_opt.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            serve_connection(tcp, peer, acceptor_opt, app, idle_timeout, stop).await;
        });
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor_opt: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    idle_timeout: Duration,
    stop: CancellationToken,
) {
    match acceptor_opt {
        None => {
            // hyper waits for the first bytes (to tell HTTP/1 from HTTP/2) without a deadline.
            let mut first_byte = [0u8; 1];
            match tokio::time::timeout(idle_timeout, tcp.peek(&mut first_byte)).await {
                Ok(Ok(read)) if read > 0 => {
                    serve_http(TokioIo::new(tcp), None, app, idle_timeout, stop).await;
                }
                Ok(_) => {}
                Err(_) => tracing::debug!(%peer, "connection idle before its first request"),
            }
        }
        Some(acceptor) => {
            let handshake = tokio::time::timeout(idle_timeout, acceptor.accept(tcp)).await;
            match handshake {
                Ok(Ok(tls)) => {
                    // ALPN decided the protocol: no sniffing (which would wait without a deadline).
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                    serve_http(TokioIo::new(tls), Some(h2), app, idle_timeout, stop).await;
                }
                // A client that does not trust us, or sends no certificate when one is required:
                // its problem, not the operator's.
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

/// Serves one connection; `h2_opt` is the protocol ALPN chose (`None`: find out from the bytes).
async fn serve_http<IO>(
    io: IO,
    h2_opt: Option<bool>,
    app: Router,
    idle_timeout: Duration,
    stop: CancellationToken,
) where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder = match h2_opt {
        Some(true) => builder.http2_only(),
        Some(false) => builder.http1_only(),
        None => builder,
    };
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(Some(idle_timeout / 2))
        .keep_alive_timeout(idle_timeout / 2);
    let service = TowerToHyperService::new(app);
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection closed with an error");
    }
}
