//! Text frames in and out: the only way input becomes a [`ClientMessage`].

use super::{
    ClientMessage, ErrorCode, ProtocolError, ServerMessage, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};

/// Turns one text frame into a message: size, then JSON, then `type`, then fields,
/// then the version of a `join`.
pub fn parse_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::new(
            ErrorCode::FrameTooLarge,
            format!(
                "frame of {} bytes; at most {MAX_FRAME_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidJson, e.to_string()))?;
    let kind = match value.get("type") {
        Some(serde_json::Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidMessage,
                "a message is a JSON object with a string \"type\"",
            ))
        }
    };
    if !ClientMessage::types().contains(&kind) {
        let shown: String = kind.chars().take(40).collect();
        return Err(ProtocolError::new(
            ErrorCode::UnknownType,
            format!("unknown message type {shown:?}"),
        ));
    }
    let message: ClientMessage = serde_json::from_value(value)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidMessage, e.to_string()))?;
    if let ClientMessage::Join { v, .. } = &message {
        if *v != PROTOCOL_VERSION {
            return Err(ProtocolError::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
    }
    Ok(message)
}

/// Serialises a server message (a plain data enum: serialisation cannot fail).
pub fn to_text(message: &ServerMessage) -> String {
    serde_json::to_string(message).unwrap_or_else(|_| {
        // Only maps with non-string keys or failing `Serialize` impls fail; we have none.
        r#"{"type":"error","code":"internal","message":"serialisation failed"}"#.to_owned()
    })
}
