//! The service behind a real WebSocket on a loopback port (what `web/src/ws.rs` does with
//! axum, done with tungstenite): pages are real clients with real socket buffers.

use futures::{SinkExt, StreamExt};
use signaling::{Admit, Signaling, WsMessage};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Serves every connection to the returned loopback address with `signaling::serve`.
pub async fn listen<A: Admit + Clone + 'static>(signaling: Signaling, admit: A) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let (signaling, admit) = (signaling.clone(), admit.clone());
            tokio::spawn(async move {
                let Ok(socket) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (sink, stream) = socket.split();
                let sink = sink.with(|m: WsMessage| async move {
                    Ok::<_, tokio_tungstenite::tungstenite::Error>(to_frame(m))
                });
                let stream = stream.filter_map(|frame| async move {
                    match frame {
                        Ok(Message::Text(text)) => Some(Ok(WsMessage::Text(text.to_string()))),
                        Ok(Message::Binary(b)) => Some(Ok(WsMessage::Binary(b.to_vec()))),
                        Ok(Message::Close(f)) => Some(Ok(WsMessage::Close(
                            f.map(|f| (u16::from(f.code), f.reason.to_string())),
                        ))),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    }
                });
                signaling::serve(Box::pin(sink), Box::pin(stream), admit, signaling).await;
            });
        }
    });
    addr
}

fn to_frame(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Binary(bytes) => Message::Binary(bytes.into()),
        WsMessage::Close(frame) => Message::Close(frame.map(|(code, reason)| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    }
}
