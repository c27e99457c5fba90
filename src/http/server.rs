//! Serving connections, with the read timeouts `axum::serve` cannot set.
//!
//! `axum::serve` builds hyper's connection builder without a timer, so hyper's header read
//! timeout never runs, and nothing bounds how long a request body may take. Here:
//! - [`serve`] accepts connections and serves each with hyper (HTTP/1, with upgrades for
//!   WebSocket), closing one that has not sent a request's headers within
//!   `HTTP_HEADER_READ_TIMEOUT_MS`; on shutdown it stops accepting and lets in-flight requests
//!   finish;
//! - [`body_deadline`], a middleware on every route, gives a request's body until
//!   `HTTP_BODY_READ_TIMEOUT_MS` after its headers to arrive whole; a handler still reading it
//!   then sees an error, and the client gets 408 whatever the handler answered.

use std::{
    future::Future,
    pin::pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    body::{Body, HttpBody},
    extract::{ConnectInfo, Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use futures_util::StreamExt;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::watch, time::Instant};
use tower::ServiceExt;

use crate::{config::HttpTimeouts, error::Code};

/// Serves `router` on `listener` until `shutdown` resolves, then waits for the open
/// connections' in-flight requests to finish. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: &HttpTimeouts,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // HTTP/1 only, as before: no client of this API speaks cleartext HTTP/2.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    // `stop` is dropped when accepting stops: every connection then shuts down gracefully.
    // Each connection holds a receiver of `done` until it ends.
    let (stop, _) = watch::channel(());
    let (done, alive) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset while queued: keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let builder = builder.clone();
        let mut stop = stop.subscribe();
        let alive = alive.clone();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            let mut connection = pin!(connection);
            let mut draining = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, %peer, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.changed(), if !draining => {
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(alive);
        });
    }
    drop(listener);
    drop(stop);
    drop(alive);
    done.closed().await;
    Ok(())
}

/// What the body deadline knows: how long a body may take.
#[derive(Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// Middleware: the request's body must arrive whole within the deadline, counted from now
/// (its headers have been read). A handler reading past it gets an error; whatever it
/// answers then, the client gets 408 and the connection closes. Bodiless requests pass
/// untouched.
pub async fn body_deadline(State(BodyDeadline(limit)): State<BodyDeadline>, request: Request, next: Next) -> Response {
    if request.body().size_hint().exact() == Some(0) {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let graphql = request.uri().path().starts_with("/graphql");
    let request = request.map(|body| with_deadline(body, Instant::now() + limit, expired.clone()));
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let message = "The request body did not arrive in time.";
    if graphql {
        (
            StatusCode::REQUEST_TIMEOUT,
            axum::Json(crate::graphql::errors::error_body(Code::LimitExceeded, message)),
        )
            .into_response()
    } else {
        super::refuse(StatusCode::REQUEST_TIMEOUT, Code::LimitExceeded, message)
    }
}

/// `body`, failing (and setting `expired`) when a chunk is still awaited at `deadline`. A
/// chunk already received is handed over even when read late.
fn with_deadline(body: Body, deadline: Instant, expired: Arc<AtomicBool>) -> Body {
    let chunks = body.into_data_stream();
    let chunks = futures_util::stream::unfold(Some(chunks), move |chunks| {
        let expired = expired.clone();
        async move {
            let mut chunks = chunks?;
            match tokio::time::timeout_at(deadline, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(chunks))),
                Ok(None) => None,
                Err(_) => {
                    expired.store(true, Ordering::Release);
                    Some((Err(axum::Error::new("request body read timed out")), None))
                }
            }
        }
    });
    Body::from_stream(chunks)
}
