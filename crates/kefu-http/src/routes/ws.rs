//! The WebSocket endpoints. Each socket gets a writer task draining its bounded hub queue and a
//! reader loop for the client's own frames (`typing`, `read`). Authentication is by `?token=`
//! because browsers cannot set headers on a WebSocket handshake.

use crate::AppState;
use crate::auth::{agent_from_token, visitor_from_token};
use crate::error::{ApiQuery, ApiResult};
use crate::hub::{Frame, Registration};
use crate::server::ConnectionSlot;
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use kefu_core::model::{User, Visitor};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Deserialize)]
pub struct TokenQuery {
    /// Optional so that a missing token is a 401 like a bad one, not a 400.
    pub token: Option<String>,
}

impl TokenQuery {
    fn token(&self) -> Result<&str, kefu_core::Error> {
        self.token
            .as_deref()
            .ok_or_else(|| kefu_core::Error::unauthorized("missing token"))
    }
}

/// A frame a client may send.
#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    conversation_id: Option<i64>,
    seq: Option<i64>,
}

/// The most client frames handled per second per socket; more are ignored (typing storms).
const CLIENT_FRAMES_PER_SEC: u32 = 20;
const PING_EVERY: Duration = Duration::from_secs(25);
/// How long one frame may take to reach a client's socket before it is closed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a socket may send nothing at all (not even a pong) before it is closed: two missed
/// pings and some slack.
const READ_TIMEOUT: Duration = Duration::from_secs(2 * 25 + 10);
/// The largest frame a client may send; real ones (`typing`, `read`) are a few dozen bytes.
const MAX_CLIENT_MESSAGE: usize = 4096;

/// Sizes the socket's buffers for what kefu actually sends and receives. The read buffer is
/// allocated whole for every socket: the default (128 KiB) would cost ~650 MB for 5,000 idle
/// shoppers, and even 8 KiB cost 40 MB. Client frames are a few dozen bytes; a larger one (up to
/// [`MAX_CLIENT_MESSAGE`]) grows the buffer as it arrives.
fn tune(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(2 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
}

#[utoipa::path(get, path = "/api/v1/ws", tag = "live", params(("token" = String, Query, description = "agent token")),
    responses((status = 101, description = "WebSocket of JSON events"), (status = 401)))]
pub async fn agent_ws(
    State(state): State<AppState>,
    slot: Option<Extension<Arc<ConnectionSlot>>>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let token = q.token()?;
    let user = agent_from_token(&state, token).await?;
    crate::auth::require_own_password(&user)?;
    let session = kefu_core::token::hash(token);
    let (registration, rx) = state
        .hub
        .register_agent(user.shop_id, user.id, user.role, &session);
    // A session ended between the check above and the registration (a deactivation, a logout
    // elsewhere) closed no socket of this one: look once more now that it is registered.
    agent_from_token(&state, token).await?;
    if let Some(suggest) = &state.services.suggest {
        suggest.warm(user.shop_id);
    }
    Ok(tune(upgrade).on_upgrade(move |socket| async move {
        // The socket counts against its address's connections for as long as it is open.
        let _slot = slot;
        run(socket, rx, registration, |frame| {
            let state = state.clone();
            let user = user.clone();
            async move { handle_agent_frame(&state, &user, frame).await }
        })
        .await
    }))
}

#[utoipa::path(get, path = "/api/v1/widget/ws", tag = "live", params(("token" = String, Query, description = "visitor token")),
    responses((status = 101, description = "WebSocket of JSON events"), (status = 401)))]
pub async fn visitor_ws(
    State(state): State<AppState>,
    slot: Option<Extension<Arc<ConnectionSlot>>>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<TokenQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let visitor = visitor_from_token(&state, q.token()?).await?;
    crate::cors::check_widget_origin(&state, &headers, visitor.shop_id).await?;
    let (registration, rx) = state.hub.register_visitor(visitor.customer_id);
    Ok(tune(upgrade).on_upgrade(move |socket| async move {
        let _slot = slot;
        run(socket, rx, registration, |frame| {
            let state = state.clone();
            let visitor = visitor.clone();
            async move { handle_visitor_frame(&state, &visitor, frame).await }
        })
        .await
    }))
}

async fn handle_agent_frame(state: &AppState, user: &User, frame: ClientFrame) {
    let Some(conversation_id) = frame.conversation_id else {
        return;
    };
    let result = match frame.kind.as_str() {
        "typing" => {
            state
                .services
                .chat
                .agent_typing(user, conversation_id)
                .await
        }
        "read" => state
            .services
            .chat
            .agent_read(user, conversation_id, frame.seq.unwrap_or(i64::MAX))
            .await
            .map(drop),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "agent frame ignored");
    }
}

async fn handle_visitor_frame(state: &AppState, visitor: &Visitor, frame: ClientFrame) {
    let result = match frame.kind.as_str() {
        "typing" => state.services.chat.shopper_typing(visitor).await,
        "read" => {
            state
                .services
                .chat
                .shopper_read(visitor, frame.seq.unwrap_or(i64::MAX))
                .await
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "shopper frame ignored");
    }
}

async fn run<F, Fut>(
    socket: WebSocket,
    mut rx: mpsc::Receiver<Frame>,
    registration: Registration,
    on_frame: F,
) where
    F: Fn(ClientFrame) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (mut sink, mut stream) = socket.split();
    // The writer ends when the hub drops this connection (queue full) or the reader ends.
    // A client that stops reading fills its TCP buffers and then blocks the write: after
    // WRITE_TIMEOUT the connection is closed, so it no longer holds megabytes of kernel buffers.
    let mut writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            let message = tokio::select! {
                frame = rx.recv() => match frame {
                    Some(text) => WsMessage::Text(text.as_ref().into()),
                    None => {
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(WsMessage::Close(None))).await;
                        break;
                    }
                },
                _ = ping.tick() => WsMessage::Ping(Default::default()),
            };
            match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    });
    let mut window = Instant::now();
    let mut in_window = 0u32;
    loop {
        // The writer ends when the hub closes this connection (its session ended, or it was too
        // slow): then the socket ends too, whatever the client keeps sending.
        // Every client answers the writer's pings, so a socket silent for READ_TIMEOUT is gone
        // (a dropped network, a suspended laptop) even though TCP has not noticed.
        let message = tokio::select! {
            message = tokio::time::timeout(READ_TIMEOUT, stream.next()) => message,
            _ = &mut writer => break,
        };
        let Ok(Some(Ok(message))) = message else {
            break;
        };
        let text = match message {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        if window.elapsed() >= Duration::from_secs(1) {
            window = Instant::now();
            in_window = 0;
        }
        in_window += 1;
        if in_window > CLIENT_FRAMES_PER_SEC || text.len() > MAX_CLIENT_MESSAGE {
            continue;
        }
        if let Ok(frame) = serde_json::from_str::<ClientFrame>(text.as_str()) {
            on_frame(frame).await;
        }
    }
    drop(registration);
    writer.abort();
}
