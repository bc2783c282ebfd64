//! Serving poort: the public listener (HTTP, or HTTPS with certificates read again when their
//! files change), the ops listener, the timeouts that cut slow clients off, and the graceful
//! shutdown that loses no audit record.

use crate::config::Config;
use crate::web::{self, AppState};
use axum::Router;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("TLS certificate {cert} / key {key}: {source}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("[server] tls_cert and tls_key go together: set both or neither")]
    TlsHalf,
    #[error("serving: {0}")]
    Io(#[from] io::Error),
}

/// The public application: poort's routes inside the request span, with the request and
/// body timeouts.
pub fn public_app(state: Arc<AppState>) -> Router {
    let server = &state.config.server;
    let request_timeout = Duration::from_secs(server.request_timeout_seconds.max(1));
    let settings = Arc::new(web::trace::TraceSettings {
        trust_incoming_traceparent: state.config.telemetry.trust_incoming_traceparent,
    });
    web::router(state.clone())
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::timeout::bounded,
        ))
        .layer(axum::middleware::from_fn_with_state(
            settings,
            web::trace::request_span,
        ))
}

/// Serves until `shutdown` resolves, then: readiness 503, no new connections, requests in
/// flight finish (within `[server] shutdown_timeout_seconds`), queued login decisions are
/// written to the audit trail (or its spool), and the ops listener closes last.
pub async fn run(
    state: AppState,
    public: tokio::net::TcpListener,
    ops: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = Arc::new(state);
    let config = state.config.clone();
    let ops_stop = Arc::new(tokio::sync::Notify::new());
    let ops_task = ops.map(|listener| {
        let app = web::ops::router(state.clone());
        let stop = ops_stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.notified().await })
                .await;
            if let Err(e) = served {
                tracing::error!("ops listener: {e}");
            }
        })
    });
    let handle = axum_server::Handle::new();
    {
        let (handle, draining) = (handle.clone(), state.draining.clone());
        let grace = Duration::from_secs(config.server.shutdown_timeout_seconds);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(
                grace_seconds = grace.as_secs(),
                "shutting down: readiness is 503, requests in flight may finish"
            );
            draining.begin();
            handle.graceful_shutdown(Some(grace));
        });
    }
    let served = serve_public(&config, public, handle, public_app(state.clone())).await;
    // Every request has ended: what they queued for the audit trail is all there is.
    let queued = state.login_audit.queued();
    state.login_audit.flush().await;
    state.grant_uses.flush().await;
    tracing::info!(decisions = queued, "audit trail and grant uses flushed");
    ops_stop.notify_waiters();
    if let Some(task) = ops_task {
        let _ = task.await;
    }
    served
}

async fn serve_public(
    config: &Config,
    listener: tokio::net::TcpListener,
    handle: axum_server::Handle<SocketAddr>,
    app: Router,
) -> Result<(), ServeError> {
    let server = &config.server;
    let idle = IdleTimeout(Duration::from_secs(
        // A request being answered is never idle for longer than the request timeout allows.
        server
            .idle_timeout_seconds
            .max(server.request_timeout_seconds)
            .max(1),
    ));
    let header_timeout = Duration::from_secs(server.header_read_timeout_seconds.max(1));
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|source| ServeError::Tls {
                    cert: cert.clone(),
                    key: key.clone(),
                    source,
                })?;
            tokio::spawn(reload_certificates(tls.clone(), cert.clone(), key.clone()));
            let acceptor = RustlsAcceptor::new(tls)
                .handshake_timeout(header_timeout)
                .acceptor(idle);
            let mut server = axum_server::Server::from_listener(listener)
                .acceptor(acceptor)
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server.serve(service).await?;
        }
        (None, None) => {
            let mut server = axum_server::Server::from_listener(listener)
                .acceptor(idle)
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server.serve(service).await?;
        }
        _ => return Err(ServeError::TlsHalf),
    }
    Ok(())
}

fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_timeout: Duration,
) {
    // hyper starts this timer whenever the connection waits for a request's head, so it also
    // closes a kept-alive HTTP/1 connection that stays silent that long.
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10));
}

/// Reads the certificate and key again when either file changes (a renewed certificate is
/// served without a restart); a bad pair is reported and the old one kept.
async fn reload_certificates(tls: RustlsConfig, cert: PathBuf, key: PathBuf) {
    let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen: (Option<SystemTime>, Option<SystemTime>) = (stamp(&cert), stamp(&key));
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let now = (stamp(&cert), stamp(&key));
        if now == seen {
            continue;
        }
        match tls.reload_from_pem_file(&cert, &key).await {
            Ok(()) => {
                seen = now;
                tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!(
                cert = %cert.display(),
                "TLS certificate changed but cannot be loaded, the previous one stays: {e}"
            ),
        }
    }
}

/// Closes a connection on which nothing moved, either way, for this long: a client that
/// trickles a request body, or holds an HTTP/2 connection open without using it.
#[derive(Debug, Clone, Copy)]
pub struct IdleTimeout(pub Duration);

impl<I, S> Accept<I, S> for IdleTimeout
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    type Stream = IdleStream<I>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(Ok((
            IdleStream {
                inner: stream,
                timeout: self.0,
                deadline: Box::pin(tokio::time::sleep(self.0)),
            },
            service,
        )))
    }
}

pub struct IdleStream<I> {
    inner: I,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<I> IdleStream<I> {
    /// What a poll of the inner stream means for the idle clock: anything ready (bytes, end,
    /// error) is movement; waiting past the deadline ends the connection.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                let next = tokio::time::Instant::now() + self.timeout;
                self.deadline.as_mut().reset(next);
                Poll::Ready(r)
            }
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => Poll::Ready(Err(
                io::Error::new(io::ErrorKind::TimedOut, "connection idle too long"),
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleStream<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.watch(cx, polled)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleStream<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// SIGTERM or Ctrl-C, whichever comes first.
pub async fn termination() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
