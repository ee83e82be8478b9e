//! Hoinghi media plane: selective forwarding of halls' WebRTC media (built out in the media-plane issue).
