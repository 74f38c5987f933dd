//! A small Chrome DevTools protocol client: one websocket to the browser, commands sent to a
//! page's session (flattened), answers matched by id; events are skipped.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Cdp {
    socket: Socket,
    next_id: u64,
}

/// Deadline of one command's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

impl Cdp {
    pub async fn connect(ws_url: &str) -> Cdp {
        let (socket, _) =
            tokio::time::timeout(ANSWER_TIMEOUT, tokio_tungstenite::connect_async(ws_url))
                .await
                .expect("DevTools websocket did not open in time")
                .expect("DevTools websocket refused");
        Cdp { socket, next_id: 1 }
    }

    /// Sends `method` (to the page `session` when given) and returns its `result`.
    pub async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket
            .send(Message::text(msg.to_string()))
            .await
            .expect("DevTools websocket closed");
        let wait = async {
            loop {
                let frame = self
                    .socket
                    .next()
                    .await
                    .expect("DevTools websocket ended")
                    .expect("DevTools websocket failed");
                let Message::Text(text) = frame else { continue };
                let v: Value = serde_json::from_str(text.as_str()).expect("DevTools sent bad JSON");
                if v["id"].as_u64() == Some(id) {
                    if let Some(e) = v.get("error") {
                        panic!("{method} failed: {e}");
                    }
                    return v["result"].clone();
                }
            }
        };
        tokio::time::timeout(ANSWER_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within {ANSWER_TIMEOUT:?}"))
    }
}
