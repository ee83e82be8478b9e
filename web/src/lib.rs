//! The hoinghi server: configuration, HTTP API, pages and the WebSocket route.
